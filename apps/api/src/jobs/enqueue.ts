import type { IdempotencyClaim, JobRecord, JobStore, Logger, ToolJobData, ToolJobOptions } from '@broker/shared';
import type { ToolQueue } from './queues';

export type EnqueueOutcome =
  | { kind: 'created'; record: JobRecord }
  | { kind: 'replayed'; record: JobRecord }
  | { kind: 'reused' }
  /** The key is known but its job record is gone (expired, or its creation was just undone). */
  | { kind: 'vanished' };

export interface EnqueueRequest {
  record: JobRecord;
  data: ToolJobData;
  /** Options for `record.id`; on a replay they are rebuilt for the original id. */
  options: (jobId: string) => ToolJobOptions;
  claim?: IdempotencyClaim;
  /** The submitting request's id: the worker logs it with every line of the job and sends it upstream as X-Request-Id. */
  requestId?: string;
}

/**
 * Writes the job record (claiming the idempotency key in the same Lua call),
 * then hands the job to BullMQ. The record comes first so that a worker never
 * picks up a job that agents cannot see.
 *
 * Runs to the end even when the HTTP request gave up waiting on it (see
 * withRedisDeadline), so its cleanup happens here and not in the caller.
 */
export async function enqueueJob(store: JobStore, queue: ToolQueue, request: EnqueueRequest, logger: Logger): Promise<EnqueueOutcome> {
  const { record, options, claim } = request;
  const data: ToolJobData = request.requestId ? { ...request.data, requestId: request.requestId } : request.data;

  if (!claim) {
    // Without an idempotency key nothing can refuse the record, so the record
    // and the job are sent together: one round trip instead of two. Redis runs
    // one connection's commands in the order sent, so the record still exists
    // before any worker can take the job (and the worker looks again, briefly,
    // for a record it cannot find on a job this young).
    const [created, added] = await Promise.allSettled([store.create(record), queue.add(record.tool, data, options(record.id))]);
    if (created.status === 'fulfilled' && added.status === 'fulfilled') return { kind: 'created', record };
    await Promise.allSettled([store.discard(record), queue.remove(record.id)]).then((results) => {
      for (const r of results) if (r.status === 'rejected') logger.error({ jobId: record.id, err: r.reason }, 'could not undo a failed enqueue');
    });
    throw created.status === 'rejected' ? created.reason : (added as PromiseRejectedResult).reason;
  }

  const outcome = await store.create(record, claim);

  if (outcome.kind === 'created') {
    try {
      await queue.add(record.tool, data, options(record.id));
    } catch (err) {
      // Nothing half-written: without this a record would sit `queued` forever,
      // and its idempotency key would replay a job that never runs.
      await store.discard(record, claim?.key).catch((discardErr: unknown) => {
        logger.error({ jobId: record.id, err: discardErr }, 'could not discard a job whose enqueue failed');
      });
      throw err;
    }
    return { kind: 'created', record };
  }

  if (outcome.kind === 'reused') return { kind: 'reused' };

  const original = await store.get(outcome.id);
  if (!original) return { kind: 'vanished' };
  if (original.status === 'queued') {
    // The first request may have died between writing the record and adding
    // the job. The fingerprint matched, so this request's data is the
    // original's; BullMQ ignores a jobId it already holds, so this is a no-op
    // in the normal case and heals the crash otherwise.
    await queue.add(original.tool, data, options(original.id));
  }
  return { kind: 'replayed', record: original };
}
