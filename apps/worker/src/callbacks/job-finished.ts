import type { RedisClient } from '@broker/redis/connection';
import { giveBackSpend } from '@broker/redis/limits/spend-reservations';
import { JobStore, type ExpiryOutcome, type JobStoreOptions, type FinishedJobFacts } from '@broker/redis/jobs/job-store';
import type { JobError } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import type { JobAudit } from '../audit/job-audit';

export type FinishedStatus = 'succeeded' | 'failed';
export type FinishedListener = (jobId: string, status: FinishedStatus, facts: FinishedJobFacts, error?: JobError) => Promise<void>;

/**
 * A JobStore that tells a listener about every terminal transition it made
 * itself (the FINISH script answers whether this call finished the job), so a
 * finished job is counted and its callback queued exactly where it finishes,
 * whichever code path finished it. A listener failure is logged, never thrown:
 * the job's outcome is already written, and a re-run heals the callback.
 */
export class FinishReportingJobStore extends JobStore {
  constructor(
    redis: RedisClient,
    keys: RedisKeys,
    options: JobStoreOptions,
    private readonly listener: FinishedListener,
    private readonly logger: Logger,
  ) {
    super(redis, keys, options);
  }

  override async succeed(id: string, result: unknown, tryToken = ''): Promise<boolean> {
    return this.report(id, 'succeeded', await this.finishJob(id, { status: 'succeeded', result: JSON.stringify(result ?? null) }, ['error'], tryToken));
  }

  override async fail(id: string, error: JobError, tryToken = ''): Promise<boolean> {
    return this.report(id, 'failed', await this.finishJob(id, { status: 'failed', error: JSON.stringify(error) }, ['result'], tryToken), error);
  }

  /** A held job nobody decided in time ends `failed` here too: counted, its callback queued, its spend given back. */
  override async expireHold(id: string, error: JobError): Promise<ExpiryOutcome> {
    const outcome = await super.expireHold(id, error);
    if (outcome.kind === 'expired') {
      const { record } = outcome;
      const facts: FinishedJobFacts = {
        tool: record.tool,
        integration: record.integration,
        connection: record.connection,
        retries: record.retries ?? 0,
        agentId: record.agentId,
        ...(record.callbackUrl ? { callbackUrl: record.callbackUrl } : {}),
        ...(record.spendDay ? { spendDay: record.spendDay } : {}),
      };
      await this.report(id, 'failed', facts, error);
    }
    return outcome;
  }

  private async report(id: string, status: FinishedStatus, facts: FinishedJobFacts | undefined, error?: JobError): Promise<boolean> {
    if (facts) {
      await this.listener(id, status, facts, error).catch((err: unknown) => {
        this.logger.error({ jobId: id, err }, 'could not report a finished job');
      });
    }
    return facts !== undefined;
  }
}

export interface JobFinishedDeps {
  redis: RedisClient;
  keys: RedisKeys;
  metrics: Metrics;
  /** Queues a job's callback; absent when callbacks are off. */
  enqueueCallback?: (jobId: string, retries: number) => Promise<void>;
  /** Told about every finished job (alerting on failure rates and revoked credentials); must not throw. */
  observe?: (job: { jobId: string; status: FinishedStatus; tool: string; integration: string; connection: string; error?: JobError }) => void;
  /** Writes the job's end (and its last run's held entries) to the audit trail; never throws, never waited for. */
  audit?: JobAudit;
}

/**
 * Counts the finished job by its tool and integration and, when it has a
 * callbackUrl, queues its callback. The facts come back from the FINISH
 * script itself, so finishing a job costs no extra read.
 */
export function jobFinishedListener(deps: JobFinishedDeps): FinishedListener {
  return async (jobId, status, facts, error) => {
    const { tool, integration, connection, callbackUrl, retries } = facts;
    // First: its command goes out right behind the FINISH answer, ahead of the callback's.
    deps.audit?.finished({ jobId, agent: facts.agentId, tool, connection }, status, error);
    deps.metrics.jobsFinished.inc({ integration: integration || 'unknown', tool: tool || 'unknown', status });
    deps.observe?.({ jobId, status, tool: tool || 'unknown', integration: integration || 'unknown', connection, ...(error ? { error } : {}) });
    await Promise.all([
      callbackUrl && deps.enqueueCallback ? deps.enqueueCallback(jobId, retries) : undefined,
      // Spend caps: a job that failed for good gives its amounts back — a no-op once a try of it sent a
      // request (commitSpend). One the agent may still retry keeps them: its re-run was already counted.
      status === 'failed' && facts.spendDay && !(error && mayRunAgain(error))
        ? giveBackSpend(deps.redis, deps.keys, { id: jobId, agentId: facts.agentId, spendDay: facts.spendDay })
        : undefined,
    ]);
  };
}

/** `POST /v1/jobs/{id}/retry` takes it (docs/api.md#retrying-a-failed-job): a retryable error, or OUTCOME_UNKNOWN. */
function mayRunAgain(error: JobError): boolean {
  return error.retryable || error.code === 'OUTCOME_UNKNOWN';
}

/**
 * For a re-run of a job that is already finished (its worker died after
 * finishing it): queue the callback that the dead worker may not have queued.
 * BullMQ keeps the first job of an id, so this is a no-op when it had.
 */
export function callbackResender(deps: JobFinishedDeps): (jobId: string) => Promise<void> {
  return async (jobId) => {
    if (!deps.enqueueCallback) return;
    const [callbackUrl, retries] = await deps.redis.hmget(deps.keys.job(jobId), 'callbackUrl', 'retries');
    if (callbackUrl) await deps.enqueueCallback(jobId, Number(retries) || 0);
  };
}
