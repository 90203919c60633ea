import type { BrokerClient } from './broker';
import type { OrderUpstream } from './upstream';

export interface JobView {
  id: string;
  status: string;
  attempts: number;
  error?: { code: string; message: string };
}

export interface JobLedger {
  published: number;
  succeeded: number;
  failed: number;
  /** Published ids with no terminal record in time (must be none). */
  missing: string[];
  /** Jobs that failed without a code (must be none). */
  failedWithoutReason: string[];
  /** Keys whose effect the upstream applied more than once (must be none). */
  duplicated: string[];
  /** Succeeded jobs whose effect the upstream never applied (must be none). */
  unapplied: string[];
  /** Keys the upstream saw that no published or known job carries (must be none). */
  strangers: string[];
  records: Map<string, JobView>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Waits for every published job to end and balances the books, by id, at the
 * API and at the upstream: published = succeeded + failed (each with a code);
 * every succeeded job's effect applied exactly once; no effect for an id the
 * broker does not know. `known` are ids of jobs that may exist without having
 * been acknowledged (a 503 whose write landed); they may reach the upstream too.
 */
export async function balanceJobs(
  client: BrokerClient,
  upstream: OrderUpstream,
  published: Iterable<string>,
  { timeoutMs = 30_000, known = [] as Iterable<string> } = {},
): Promise<JobLedger> {
  const ids = [...new Set(published)];
  const deadline = Date.now() + timeoutMs;
  const records = new Map<string, JobView>();
  // Long-polls, a few at a time: each returns as soon as its job ends.
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        while (Date.now() < deadline) {
          const x = await client.getJob(id, Math.max(0, Math.min(10_000, deadline - Date.now())));
          if (x.status === 200 && TERMINAL.has(x.body.status)) {
            records.set(id, x.body as JobView);
            break;
          }
          if (x.status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  const done = [...records.values()];
  const allowed = new Set([...ids, ...known]);
  return {
    published: ids.length,
    succeeded: done.filter((j) => j.status === 'succeeded').length,
    failed: done.filter((j) => j.status === 'failed').length,
    missing: ids.filter((id) => !records.has(id)),
    failedWithoutReason: done.filter((j) => j.status === 'failed' && !j.error?.code).map((j) => j.id),
    duplicated: [...upstream.effects].filter(([, n]) => n > 1).map(([key]) => key),
    unapplied: done.filter((j) => j.status === 'succeeded' && upstream.effects.get(j.id) !== 1).map((j) => j.id),
    strangers: [...upstream.effects.keys()].filter((key) => !allowed.has(key)),
    records,
  };
}

/** The ledger's verdicts in one object, so a failing test shows them all at once. */
export function ledgerFaults(ledger: JobLedger) {
  return {
    missing: ledger.missing,
    failedWithoutReason: ledger.failedWithoutReason,
    duplicated: ledger.duplicated,
    unapplied: ledger.unapplied,
    strangers: ledger.strangers,
    balanced: ledger.published === ledger.succeeded + ledger.failed,
  };
}

export const NO_FAULTS = { missing: [], failedWithoutReason: [], duplicated: [], unapplied: [], strangers: [], balanced: true };
