import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { readOwnJob } from '../routes/own-job';
import { isTerminalJob } from './results';

/**
 * How often a wait with a progress listener re-reads the job to report state
 * changes (the job-events channel only announces the end of a job).
 * @defaultValue 1000
 */
export const PROGRESS_POLL_MS = 1000;

export interface WaitOptions {
  signal: AbortSignal;
  /** Called with each state change seen while waiting (status, attempts, progress). */
  onChange?: (record: JobRecord) => Promise<void>;
}

const fingerprint = (r: JobRecord) => JSON.stringify([r.status, r.attempts, r.progress ?? null]);

/**
 * Waits until the job is terminal, `waitMs` has passed, the MCP request was
 * abandoned, or the API shuts down, then returns the latest record. Like the
 * REST long-poll it sleeps on the process-wide job event hub: registered
 * first, read second, so an end published in between is not missed.
 */
export async function waitForJob(ctx: ApiContext, record: JobRecord, agentId: string, waitMs: number, options: WaitOptions): Promise<JobRecord> {
  const { events, store } = ctx;
  const deadline = Date.now() + waitMs;
  let seen = fingerprint(record);
  let current = record;
  while (!isTerminalJob(current) && !options.signal.aborted && !events.closed && Date.now() < deadline) {
    const waiter = events.register(current.id);
    try {
      current = await readOwnJob(store, current.id, agentId);
      if (isTerminalJob(current)) break;
      const slice = options.onChange ? Math.min(PROGRESS_POLL_MS, deadline - Date.now()) : deadline - Date.now();
      await waiter.until(slice, options.signal);
    } finally {
      waiter.release();
    }
    current = await readOwnJob(store, current.id, agentId);
    const now = fingerprint(current);
    if (now !== seen && options.onChange && !isTerminalJob(current)) await options.onChange(current);
    seen = now;
  }
  return current;
}
