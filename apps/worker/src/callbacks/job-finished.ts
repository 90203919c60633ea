import type { RedisClient } from '@broker/shared';
import { JobStore, type JobError, type JobStoreOptions, type Logger, type Metrics, type RedisKeys, type FinishedJobFacts } from '@broker/shared';

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

  override async succeed(id: string, result: unknown): Promise<boolean> {
    return this.report(id, 'succeeded', await this.finishJob(id, { status: 'succeeded', result: JSON.stringify(result ?? null) }, ['error']));
  }

  override async fail(id: string, error: JobError): Promise<boolean> {
    return this.report(id, 'failed', await this.finishJob(id, { status: 'failed', error: JSON.stringify(error) }, ['result']), error);
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
}

/**
 * Counts the finished job by its tool and integration and, when it has a
 * callbackUrl, queues its callback. The facts come back from the FINISH
 * script itself, so finishing a job costs no extra read.
 */
export function jobFinishedListener(deps: JobFinishedDeps): FinishedListener {
  return async (jobId, status, facts, error) => {
    const { tool, integration, connection, callbackUrl, retries } = facts;
    deps.metrics.jobsFinished.inc({ integration: integration || 'unknown', tool: tool || 'unknown', status });
    deps.observe?.({ jobId, status, tool: tool || 'unknown', integration: integration || 'unknown', connection, ...(error ? { error } : {}) });
    if (callbackUrl && deps.enqueueCallback) await deps.enqueueCallback(jobId, retries);
  };
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
