import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { readOwnJob, type JobReader } from '../routes/own-job';
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
  /**
   * Given, a read that fails (Redis slower than its deadline, or away) ends
   * the wait with the job as last read, after calling this, instead of
   * rejecting: for a wait on a job the same request has just queued, whose
   * refusal would read as "nothing was queued" (call-tool.ts).
   */
  onReadFailure?: (err: unknown) => void;
}

const fingerprint = (r: JobRecord) => JSON.stringify([r.status, r.attempts, r.progress ?? null]);

/**
 * Waits until the job is terminal, `waitMs` has passed, the MCP request was
 * abandoned, or the API shuts down, then returns the latest record. Like the
 * REST long-poll it sleeps on the process-wide job event hub: registered
 * first, read second, so an end published in between is not missed. Each
 * read is for `reader`, so a job its scopes do not allow reads as not found.
 */
export async function waitForJob(ctx: ApiContext, record: JobRecord, reader: JobReader, waitMs: number, options: WaitOptions): Promise<JobRecord> {
  const { events, store } = ctx;
  const deadline = Date.now() + waitMs;
  let seen = fingerprint(record);
  let current = record;
  try {
    while (!isTerminalJob(current) && !options.signal.aborted && !events.closed && Date.now() < deadline) {
      const waiter = events.register(current.id);
      try {
        current = await readOwnJob(store, current.id, reader);
        if (isTerminalJob(current)) break;
        const slice = options.onChange ? Math.min(PROGRESS_POLL_MS, deadline - Date.now()) : deadline - Date.now();
        await waiter.until(slice, options.signal);
      } finally {
        waiter.release();
      }
      current = await readOwnJob(store, current.id, reader);
      const now = fingerprint(current);
      if (now !== seen && options.onChange && !isTerminalJob(current)) await options.onChange(current);
      seen = now;
    }
  } catch (err) {
    if (!options.onReadFailure) throw err;
    options.onReadFailure(err);
  }
  return current;
}
