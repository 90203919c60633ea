/**
 * Jobs finished per integration over a sliding window, in-process: every
 * worker judges the share of permanent failures among the jobs it finished
 * itself (a fair sample of the integration's traffic), with no Redis write on
 * the hot path. Ten buckets per window.
 */
export class FailureRate {
  private readonly buckets = new Map<string, { start: number; total: number; bad: number }[]>();
  private readonly bucketMs: number;

  constructor(private readonly windowMs: number) {
    this.bucketMs = Math.max(1, Math.floor(windowMs / 10));
  }

  /** Counts a finished job; returns the window's totals including it. */
  record(integration: string, bad: boolean, now = Date.now()): { total: number; bad: number } {
    const list = (this.buckets.get(integration) ?? []).filter((b) => now - b.start < this.windowMs);
    const start = now - (now % this.bucketMs);
    let current = list[list.length - 1];
    if (!current || current.start !== start) {
      current = { start, total: 0, bad: 0 };
      list.push(current);
    }
    current.total += 1;
    if (bad) current.bad += 1;
    this.buckets.set(integration, list);
    return list.reduce((sum, b) => ({ total: sum.total + b.total, bad: sum.bad + b.bad }), { total: 0, bad: 0 });
  }
}
