import { ErrorCode } from 'bullmq';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob, type DecisionOutcome, type JobRecord } from '@broker/redis/jobs/job-store';
import type { HeldJob } from '@broker/shared/jobs/approvals';
import type { JobError } from '@broker/shared/jobs/schema';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark } from '../redis/replicated';
import { untilAnswered } from '../redis/until-answered';
import { jobNotFound } from '../routes/own-job';
import { auditDecision } from './audit-events';
import { queueCallback } from './callbacks';
import type { ToolQueue } from './queues';

/** Who decides: `by` is `admin` or the deciding agent's id; `agentId` is set when an agent (scope `jobs:approve`) decides. */
export interface Decider {
  by: string;
  agentId?: string | undefined;
}

/** @defaultValue 500 ms: follow-up work (promote, remove, callback) must not eat the 2 s budget. */
const FOLLOW_UP_DEADLINE_MS = 500;

/** The 503 of a decision no replica confirmed (durability "replicated"). */
const unconfirmedDecision = (verb: 'approved' | 'denied') =>
  `The job is ${verb} on the Redis primary, but no replica confirmed it in time (durability "replicated"): a failover now could undo the decision. Read the job once Redis answers again: still awaiting_approval means decide again.`;

/** The refusal of a decision that did not happen, as the contract words it (409 for any job not awaiting approval). */
function refusal(outcome: Exclude<DecisionOutcome, { kind: 'decided' }>, verb: 'approved' | 'denied'): ProblemError {
  switch (outcome.kind) {
    case 'missing':
      return jobNotFound();
    case 'own':
      return new ProblemError('FORBIDDEN', `An agent may not decide on its own job; it can cancel it (DELETE /v1/jobs/{id}). Another operator must have it ${verb}.`);
    case 'expired':
      return new ProblemError('CONFLICT', "The job's approval window has passed: it fails APPROVAL_EXPIRED and will not run.");
    case 'conflict':
      return new ProblemError('CONFLICT', `The job is ${outcome.status}; only a job awaiting approval can be ${verb}.`);
  }
}

/** A `failed` APPROVAL_DENIED error, with the operator's reason when one was given. */
export function deniedError(reason: string | undefined): JobError {
  const why = reason?.trim();
  return {
    code: 'APPROVAL_DENIED',
    message: why ? `An operator denied the job: ${why}` : 'An operator denied the job (no reason given).',
    retryable: false,
  };
}

/** The decision's audit entries (`approved`; `denied` and the job's `failed`) and one log line. */
function logDecision(ctx: ApiContext, event: 'approved' | 'denied', record: JobRecord, decider: Decider, requestId: string | undefined): void {
  auditDecision(ctx.audit, record, event, decider.by);
  ctx.logger.info(
    {
      audit: event,
      at: record.decision?.at,
      jobId: record.id,
      agent: record.agentId,
      by: decider.by,
      tool: record.tool,
      integration: record.integration,
      connection: record.connection,
      rule: record.hold?.rule.index,
      requestId,
    },
    `held job ${event}`,
  );
}

/**
 * Moves an approved job's BullMQ job, delayed until its hold's end, to run
 * now. Resolves when that is done or there is nothing to do; rejects only
 * when Redis did not answer (to be tried again).
 */
async function promoteNow(ctx: ApiContext, queue: ToolQueue, id: string): Promise<void> {
  const job = await queue.getJob(id);
  if (!job) {
    ctx.logger.error({ jobId: id }, 'an approved job has no queued work (its queue lost it); a replay of its Idempotency-Key re-adds it');
    return;
  }
  try {
    await job.promote();
  } catch (err) {
    // Not delayed any more: a worker already took it at its deadline, and finds it queued.
    if ((err as { code?: unknown }).code === ErrorCode.JobNotInState) return;
    throw err;
  }
}

/**
 * `POST /v1/jobs/{id}/approve`: the record moves `awaiting_approval` →
 * `queued` in one script (so approve, deny, the agent's cancel and the
 * worker's expiry race safely), then its BullMQ job, delayed until the hold's
 * end, is promoted to run now. A promotion Redis did not answer is tried again
 * in the background for a while (SETTLE_UNCONFIRMED_MS); should it never
 * happen, the job still runs when its delay ends: the worker's claim finds it
 * queued. With durability "replicated" the answer waits for a replica.
 */
export async function approveHeldJob(ctx: ApiContext, id: string, decider: Decider, reason: string | undefined, requestId?: string): Promise<JobRecord> {
  const mark = replicaMark(ctx.redis);
  const outcome = await ctx.store.approve(id, { by: decider.by, reason }, decider.agentId);
  if (outcome.kind !== 'decided') throw refusal(outcome, 'approved');
  const { record } = outcome;
  logDecision(ctx, 'approved', record, decider, requestId);
  const queue = ctx.queues.get(record.integration);
  if (!queue) {
    ctx.logger.error({ jobId: id, integration: record.integration }, "an approved job's integration is no longer configured; it does not run");
  } else {
    await withRedisDeadline(promoteNow(ctx, queue, id), FOLLOW_UP_DEADLINE_MS).catch((err: unknown) => {
      ctx.logger.warn({ jobId: id, err: (err as Error).message }, 'could not promote an approved job yet; trying again');
      void untilAnswered(() => promoteNow(ctx, queue, id), queue).then((done) => {
        if (done === undefined) ctx.logger.error({ jobId: id }, 'could not promote an approved job: Redis did not answer; it runs when its hold would have ended');
      });
    });
  }
  await awaitReplica(ctx, mark, { detail: unconfirmedDecision('approved') });
  return record;
}

/**
 * `POST /v1/jobs/{id}/deny`: the record ends `failed` APPROVAL_DENIED (the
 * reason in its message) in one script; then, as for a cancel, the api
 * finishes what a worker would: the job's callback, its metric, its BullMQ
 * job removed, and its spend-cap reservation given back. The BullMQ job goes
 * only once the callback is queued: the worker that takes a denied job (at
 * the hold's end) re-queues its callback. With durability "replicated" the
 * answer waits for a replica.
 */
export async function denyHeldJob(ctx: ApiContext, id: string, decider: Decider, reason: string | undefined, requestId?: string): Promise<JobRecord> {
  const mark = replicaMark(ctx.redis);
  const outcome = await ctx.store.deny(id, { by: decider.by, reason }, deniedError(reason), decider.agentId);
  if (outcome.kind !== 'decided') throw refusal(outcome, 'denied');
  const { record } = outcome;
  logDecision(ctx, 'denied', record, decider, requestId);
  ctx.metrics.jobsFinished.inc({ integration: record.integration, tool: record.tool, status: 'failed' });
  const followUps = [
    queueCallback(ctx.callbacks, record, ctx.config.retention.jobSeconds).then(
      () =>
        Promise.resolve(ctx.queues.get(record.integration)?.remove(id)).catch((err: unknown) => {
          ctx.logger.warn({ jobId: id, err: (err as Error).message }, 'could not remove a denied job from its queue');
        }),
      (err: unknown) => {
        ctx.logger.warn({ jobId: id, err: (err as Error).message }, 'could not queue the callback of a denied job; the worker that takes its job queues it');
      },
    ),
    // Spend caps: give back (a denied job never called the upstream).
    ctx.spendCaps.giveBack(record).catch((err: unknown) => {
      ctx.logger.warn({ jobId: id, err: (err as Error).message }, 'could not give back the spend of a denied job');
    }),
  ];
  await withRedisDeadline(Promise.all(followUps), FOLLOW_UP_DEADLINE_MS).catch(() => undefined);
  await awaitReplica(ctx, mark, { detail: unconfirmedDecision('denied') });
  return record;
}

/** `GET /v1/approvals`: held jobs, oldest first, each with its agent, connection, rule, deadline and input. */
export async function listHeldJobs(ctx: ApiContext, limit: number): Promise<HeldJob[]> {
  const records = await ctx.store.listHeld(limit);
  return Promise.all(
    records.map(async (record): Promise<HeldJob> => {
      // The input lives in the job's BullMQ data (the record keeps none): operators see what they approve.
      const job = await ctx.queues.get(record.integration)?.getJob(record.id);
      const input = job?.data.input;
      return {
        ...toPublicJob(record),
        agent: record.agentId,
        connection: record.connection,
        rule: record.hold!.rule,
        expiresAt: record.hold!.expiresAt,
        ...(input ? { input } : {}),
      };
    }),
  );
}
