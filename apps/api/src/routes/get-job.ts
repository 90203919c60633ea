import type { RequestHandler } from 'express';
import { z } from 'zod';
import { TERMINAL_STATUSES } from '@broker/shared/jobs/schema';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { clientGone } from '../http/client-gone';
import { agentOf } from '../http/locals';
import { readOwnJob } from './own-job';
import { parseQuery } from '../http/parse-query';

/** @defaultValue 30000: the contract's ceiling, below common proxy idle timeouts (60 s). */
export const MAX_WAIT_MS = 30_000;

const querySchema = z.object({
  waitMs: z
    .string()
    .regex(/^\d{1,6}$/, 'must be an integer number of milliseconds')
    .transform(Number)
    .pipe(z.int().min(0).max(MAX_WAIT_MS))
    .optional(),
});

const isTerminal = (record: JobRecord) => TERMINAL_STATUSES.has(record.status);

/**
 * `GET /v1/jobs/:id[?waitMs=]`. With `waitMs` the answer is held until the
 * job is terminal or the time is up, so an agent can wait for a result with
 * one request instead of polling. The wait costs no Redis traffic: it sleeps
 * on the process-wide job event hub and reads the record only when woken.
 */
export function getJob({ store, events }: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const agent = agentOf(res);
    const query = parseQuery(querySchema, req.query);
    const waitMs = query.waitMs ?? 0;
    const deadline = Date.now() + waitMs;

    let record = await readOwnJob(store, req.params.id, agent);
    if (waitMs > 0 && !isTerminal(record)) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      res.once('close', onClose);
      // The client may have left during the first read: its `close` is past and would never wake the wait.
      if (clientGone(req, res)) gone.abort();
      try {
        while (!isTerminal(record) && !gone.signal.aborted && !events.closed && Date.now() < deadline) {
          const waiter = events.register(record.id);
          try {
            // Registered first, read second: an event published before the
            // registration is covered by the read, one after it by the waiter.
            record = await readOwnJob(store, record.id, agent);
            if (isTerminal(record)) break;
            await waiter.until(deadline - Date.now(), gone.signal);
          } finally {
            waiter.release();
          }
          if (gone.signal.aborted) return;
          record = await readOwnJob(store, record.id, agent);
        }
      } finally {
        res.off('close', onClose);
      }
      if (gone.signal.aborted) return;
    }
    res.json(toPublicJob(record));
  };
}
