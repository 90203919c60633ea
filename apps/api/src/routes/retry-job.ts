import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob, type JobRecord, type RetryUndo } from '@broker/redis/jobs/job-store';
import type { JobError, JobStatus, ToolJobData } from '@broker/shared/jobs/schema';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';
import { auditRetried } from '../jobs/audit-events';
import { withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark } from '../redis/replicated';
import { assertJobId, jobNotFound } from './own-job';

/**
 * How long a retry waits for the BullMQ job of a job that has just failed to
 * leave `active`: the worker writes the failed record first and moves its
 * BullMQ job to the failed set a moment later, and an agent woken by the
 * record (a long-poll answers at once) can retry inside that moment.
 * @defaultValue 1000
 */
export const SETTLE_WAIT_MS = 1000;
/** @defaultValue 20 */
const SETTLE_POLL_MS = 20;

const RETRY_RULE = 'only a failed job whose error is retryable, or OUTCOME_UNKNOWN, can be retried';

/** The 503 of a retry no replica confirmed (durability "replicated"). */
const RETRY_UNCONFIRMED =
  'The job is queued again on the Redis primary, but no replica confirmed it in time (durability "replicated"): a failover now could undo the retry. Read the job once Redis answers again: still failed means retry it again.';

function notRetryable(status: JobStatus, code?: string): ProblemError {
  if (status === 'failed')
    return new ProblemError('CONFLICT', `The job failed with ${code || 'an error'}, which is not retryable; ${RETRY_RULE}. Fix the cause and submit a new job.`);
  return new ProblemError('CONFLICT', `The job is ${status}; ${RETRY_RULE}.`);
}

function errorCodeOf(raw: string): string | undefined {
  try {
    return (JSON.parse(raw) as Partial<JobError>).code;
  } catch {
    return undefined;
  }
}

/**
 * The payload of the re-run: a fresh start. The budget of 429 deferrals is
 * reset like the attempts, an async tool's wait is dropped (the re-run makes
 * its first call again, with the same upstream Idempotency-Key), and so is a
 * look-only run's verdict. What stays is that an earlier try may have applied
 * an unkeyed write — a worker noted it, or the job ended OUTCOME_UNKNOWN — so
 * the re-run looks the effect up before it sends.
 */
function rerunData(data: ToolJobData, retriedCode: string | undefined): ToolJobData {
  const { rateLimitDeferrals: _deferrals, asyncWait: _wait, lookOnly: _look, ...rest } = data;
  return { ...rest, retriedByAgent: true, ...(retriedCode === 'OUTCOME_UNKNOWN' ? { mayHaveApplied: true as const } : {}) };
}

type Found = { kind: 'found'; job: Job<ToolJobData>; state: string } | { kind: 'refused'; detail: string; headers?: Record<string, string> };

const GONE: Found = { kind: 'refused', detail: 'The job can no longer run again: its input is no longer kept. Submit it as a new job.' };

/**
 * The job's BullMQ job once no worker holds it. A job that failed for good is
 * in the failed set (or `completed`, when a re-run after a worker crash found
 * its record already failed and skipped it).
 */
async function settledJob(ctx: ApiContext, record: JobRecord): Promise<Found> {
  const queue = ctx.queues.get(record.integration);
  if (!queue) return { kind: 'refused', detail: `The job's integration "${record.integration}" is no longer configured; it cannot run again.` };
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (;;) {
    const job = await queue.getJob(record.id);
    // Finished BullMQ jobs are kept for a bounded count (see toolJobOptions): the input went with it.
    if (!job) return GONE;
    const state = await job.getState();
    if (state === 'unknown') return GONE;
    if (state !== 'active') return { kind: 'found', job, state };
    if (Date.now() >= deadline) {
      return { kind: 'refused', detail: 'The worker that failed the job is still handing it back; retry in a moment.', headers: { 'Retry-After': '1' } };
    }
    await sleep(SETTLE_POLL_MS);
  }
}

/**
 * Runs a failed job of this agent again, as the same job (docs/api.md#retrying-a-failed-job,
 * `POST /v1/jobs/{id}/retry`), shared by the REST route and MCP `retry_job`:
 * 1. the record moves failed → queued in one script that checks the owner,
 *    the status and the error (so two concurrent retries make one re-run);
 * 2. its BullMQ job, with the same id (so every try sends the job's own
 *    upstream Idempotency-Key), goes from the failed set back to wait, with
 *    a fresh set of `retry.attempts` tries (`resetAttemptsMade`);
 * 3. should that be impossible (the BullMQ job is gone, or a worker still
 *    holds it), the record is put back as it was and the agent is answered 409.
 * Returns the record after the move (`queued`, `attempts` kept), with
 * durability "replicated" once a replica has it.
 */
export async function retryOwnJob(ctx: ApiContext, agent: Pick<AuthenticatedAgent, 'id' | 'mayUseTool' | 'mayUseConnection'>, id: string, requestId?: string): Promise<JobRecord> {
  assertJobId(id);
  const mark = replicaMark(ctx.redis);
  const agentId = agent.id;
  // Scopes and connections narrowed since the submission apply to a re-run as to a new job.
  const current = await ctx.store.get(id);
  if (current && current.agentId === agentId && !agent.mayUseTool(current.tool)) {
    throw new ProblemError('FORBIDDEN', `This key may not call "${current.tool}".`);
  }
  if (current && current.agentId === agentId && !agent.mayUseConnection(current.integration, current.connection)) {
    throw new ProblemError('FORBIDDEN', `This key may no longer use connection "${current.connection}" of "${current.integration}".`);
  }
  const outcome = await ctx.store.retry(id, agentId);
  if (outcome.kind === 'missing') throw jobNotFound();
  if (outcome.kind === 'conflict') throw notRetryable(outcome.status, outcome.code);
  const { record, undo } = outcome;

  const undoRetry = async (why: string) => {
    try {
      const undone = await ctx.store.undoRetry(id, undo);
      ctx.logger.warn(
        { jobId: id, agent: agentId, requestId, why, undone },
        undone ? 'retry not carried out; the job is failed again' : 'retry not carried out; the job had moved on meanwhile',
      );
    } catch (err) {
      // Only a Redis outage gets here: the record stays queued and its BullMQ job failed, until the agent cancels it.
      ctx.logger.error({ jobId: id, agent: agentId, requestId, why, err: (err as Error).message }, 'could not undo a retry that was not carried out');
    }
  };

  let from: string;
  try {
    const found = await settledJob(ctx, record);
    if (found.kind === 'refused') {
      await undoRetry(found.detail);
      throw new ProblemError('CONFLICT', found.detail, undefined, found.headers);
    }
    const { job, state } = found;
    await job.updateData(rerunData(job.data, errorCodeOf(undo.error)));
    // Waiting or delayed already (a worker will take it): the record now lets it run.
    if (state === 'failed' || state === 'completed') await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    from = state;
  } catch (err) {
    if (!(err instanceof ProblemError)) await undoRetry((err as Error).message);
    throw err;
  }

  logRetried(ctx, record, undo, { agentId, requestId, from });
  auditRetried(ctx.audit, record, agentId, errorCodeOf(undo.error));
  await awaitReplica(ctx, mark, { detail: RETRY_UNCONFIRMED });
  return record;
}

/** One line per retry, with the fields of an audit entry (docs/guardrails.md#audit-trail, event `retried`). */
function logRetried(ctx: ApiContext, record: JobRecord, undo: RetryUndo, facts: { agentId: string; requestId: string | undefined; from: string }): void {
  ctx.logger.info(
    {
      audit: 'retried',
      at: record.retriedAt,
      jobId: record.id,
      agent: facts.agentId,
      by: facts.agentId,
      tool: record.tool,
      integration: record.integration,
      connection: record.connection,
      code: errorCodeOf(undo.error),
      attempts: record.attempts,
      retries: record.retries,
      bullState: facts.from,
      requestId: facts.requestId,
    },
    'job retried by its agent',
  );
}

/**
 * `POST /v1/jobs/:id/retry`: a failed job whose error is retryable (or
 * OUTCOME_UNKNOWN) runs again as the same job: 202 with the job, `queued`,
 * and `Location` to poll, as for a submission. Any other state: 409; another
 * agent's job or an unknown id: 404.
 */
export function retryJob(ctx: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const agent = agentOf(res);
    const id = req.params.id;
    assertJobId(id);
    const record = await withRedisDeadline(retryOwnJob(ctx, agent, id, res.locals.requestId));
    res.status(202).location(`/v1/jobs/${record.id}`).json(toPublicJob(record));
  };
}
