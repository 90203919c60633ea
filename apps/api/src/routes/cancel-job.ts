import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import type { JobStatus } from '@broker/shared/jobs/schema';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';
import { auditCancelled } from '../jobs/audit-events';
import { queueCallback } from '../jobs/callbacks';
import { withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark } from '../redis/replicated';
import { assertJobId, jobNotFound, readOwnJob } from './own-job';

/** @defaultValue 500 ms: removal is an optimisation and must not eat the 2 s budget. */
const REMOVE_DEADLINE_MS = 500;

/** The 503 of a cancel no replica confirmed (durability "replicated"). */
const CANCEL_UNCONFIRMED =
  'The job is cancelled on the Redis primary, but no replica confirmed it in time (durability "replicated"): a failover now could undo the cancel. Read the job once Redis answers again: still queued means cancel it again.';

const notCancellable = (status: JobStatus) => new ProblemError('CONFLICT', `The job is ${status}; only queued, deferred or awaiting_approval jobs can be cancelled.`);

/**
 * What a cancel finishes besides the record: the count, the audit entry, the
 * callback, the spend given back, the BullMQ job removed. The callback and the
 * give-back go together; the BullMQ job goes only once the callback is queued
 * (a worker that takes a cancelled job re-queues its callback). Each step is
 * bounded and logged, never thrown.
 */
async function afterCancel(ctx: ApiContext, record: JobRecord, agentId: string): Promise<void> {
  const { queues, logger, callbacks, metrics, config, audit, spendCaps } = ctx;
  const id = record.id;
  metrics.jobsFinished.inc({ integration: record.integration, tool: record.tool, status: 'cancelled' });
  auditCancelled(audit, record, agentId);
  // Cancelling finishes the job here, not in a worker, so its callback is queued here too.
  const [callbackQueued] = await Promise.all([
    withRedisDeadline(queueCallback(callbacks, record, config.retention.jobSeconds), REMOVE_DEADLINE_MS).then(
      () => true,
      (err: unknown) => {
        logger.warn({ jobId: id, err: (err as Error).message }, 'could not queue the callback of a cancelled job; the worker that takes its job queues it');
        return false;
      },
    ),
    // Spend caps: its amounts go back to the agent's day, unless a try of it already sent a request.
    withRedisDeadline(spendCaps.giveBack(record), REMOVE_DEADLINE_MS).catch((err: unknown) => {
      logger.warn({ jobId: id, err: (err as Error).message }, 'could not give back the spend of a cancelled job');
    }),
  ]);
  const queue = callbackQueued ? queues.get(record.integration) : undefined;
  await withRedisDeadline(Promise.resolve(queue?.remove(id)), REMOVE_DEADLINE_MS).catch((err: unknown) => {
    logger.warn({ jobId: id, err: (err as Error).message }, 'could not remove a cancelled job from its queue');
  });
}

/**
 * Cancels a job of the agent's that has not started, and answers its record.
 * The job record decides (one Lua script races the worker's claim, and
 * exactly one wins); removing the BullMQ job afterwards only saves a worker
 * the trip, since a worker that gets it anyway sees `cancelled` when it claims
 * and skips it. Shared by `DELETE /v1/jobs/:id` and MCP `tasks/cancel`.
 *
 * The BullMQ job goes only once the callback is queued: a worker that takes a
 * cancelled job re-queues its callback, which heals one that could not be
 * queued here. With durability "replicated" the answer waits for a replica.
 */
export async function cancelOwnJob(ctx: ApiContext, agentId: string, id: string): Promise<JobRecord> {
  const { store } = ctx;
  assertJobId(id);
  const mark = replicaMark(ctx.redis);
  // The cancel itself, under the 2 s budget. What follows it is bounded on its own and never
  // fails the answer: once the script has said `cancelled`, a 503 would send the client to
  // cancel again and get 409 for a job it did cancel.
  const [record, cancelled] = await withRedisDeadline(
    (async (): Promise<[JobRecord | undefined, JobRecord]> => {
      // Ownership is checked inside the script: another agent's job is 'missing'.
      const outcome = await store.cancel(id, agentId);
      if (outcome.kind === 'missing') throw jobNotFound();
      if (outcome.kind === 'conflict') throw notCancellable(outcome.status);
      if (outcome.kind === 'uncertain') {
        throw new ProblemError(
          'CONFLICT',
          'An earlier try of this write may have taken effect upstream, and the broker is about to look it up by its reference; it cannot be cancelled until that is known. Poll the job.',
        );
      }
      const read = await store.get(id);
      return [read, read ?? (await readOwnJob(store, id, agentId))];
    })(),
  );
  if (record) await afterCancel(ctx, record, agentId);
  await awaitReplica(ctx, mark, { detail: CANCEL_UNCONFIRMED });
  return cancelled;
}

/** `DELETE /v1/jobs/:id`: {@link cancelOwnJob}, answered as the public job. */
export function cancelJob(ctx: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const agent = agentOf(res);
    // A job of a tool the key's scopes no longer allow is not found, as for GET (the script checks the owner only).
    await readOwnJob(ctx.store, req.params.id, agent);
    const cancelled = await cancelOwnJob(ctx, agent.id, req.params.id);
    res.json(toPublicJob(cancelled));
  };
}
