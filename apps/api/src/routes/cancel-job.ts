import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import type { JobStatus } from '@broker/shared/jobs/schema';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';
import { auditCancelled } from '../jobs/audit-events';
import { queueCallback } from '../jobs/callbacks';
import { withRedisDeadline } from '../redis/deadline';
import { assertJobId, jobNotFound, readOwnJob } from './own-job';

/** @defaultValue 500 ms: removal is an optimisation and must not eat the 2 s budget. */
const REMOVE_DEADLINE_MS = 500;

const notCancellable = (status: JobStatus) => new ProblemError('CONFLICT', `The job is ${status}; only queued, deferred or awaiting_approval jobs can be cancelled.`);

/**
 * Cancels a job of the agent's that has not started, and answers its record.
 * The job record decides (one Lua script races the worker's claim, and
 * exactly one wins); removing the BullMQ job afterwards only saves a worker
 * the trip, since a worker that gets it anyway sees `cancelled` when it claims
 * and skips it. Shared by `DELETE /v1/jobs/:id` and MCP `tasks/cancel`.
 */
export async function cancelOwnJob(ctx: ApiContext, agentId: string, id: string): Promise<JobRecord> {
  const { store, queues, logger, callbacks, metrics, config, audit, spendCaps } = ctx;
  assertJobId(id);
  return withRedisDeadline(
    (async (): Promise<JobRecord> => {
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

      const record = await store.get(id);
      if (record) {
        metrics.jobsFinished.inc({ integration: record.integration, tool: record.tool, status: 'cancelled' });
        auditCancelled(audit, record, agentId);
        // Cancelling finishes the job here, not in a worker, so its callback is queued here too.
        await withRedisDeadline(queueCallback(callbacks, record, config.retention.jobSeconds), REMOVE_DEADLINE_MS).catch((err: unknown) => {
          logger.error({ jobId: id, err: (err as Error).message }, 'could not queue the callback of a cancelled job');
        });
        // Spend caps: its amounts go back to the agent's day, unless a try of it already sent a request.
        await withRedisDeadline(spendCaps.giveBack(record), REMOVE_DEADLINE_MS).catch((err: unknown) => {
          logger.warn({ jobId: id, err: (err as Error).message }, 'could not give back the spend of a cancelled job');
        });
      }
      const queue = record && queues.get(record.integration);
      await withRedisDeadline(Promise.resolve(queue?.remove(id)), REMOVE_DEADLINE_MS).catch((err: unknown) => {
        logger.warn({ jobId: id, err: (err as Error).message }, 'could not remove a cancelled job from its queue');
      });
      return record ?? (await readOwnJob(store, id, agentId));
    })(),
  );
}

/** `DELETE /v1/jobs/:id`: {@link cancelOwnJob}, answered as the public job. */
export function cancelJob(ctx: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const cancelled = await cancelOwnJob(ctx, agentOf(res).id, req.params.id);
    res.json(toPublicJob(cancelled));
  };
}
