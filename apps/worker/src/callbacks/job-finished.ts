import type { RedisClient } from '@broker/shared';
import { JobStore, type JobError, type JobStoreOptions, type Logger, type Metrics, type RedisKeys } from '@broker/shared';

export type FinishedStatus = 'succeeded' | 'failed';
export type FinishedListener = (jobId: string, status: FinishedStatus, error?: JobError) => Promise<void>;

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
    return this.report(id, 'succeeded', await super.succeed(id, result));
  }

  override async fail(id: string, error: JobError): Promise<boolean> {
    return this.report(id, 'failed', await super.fail(id, error), error);
  }

  private async report(id: string, status: FinishedStatus, finished: boolean, error?: JobError): Promise<boolean> {
    if (finished) {
      await this.listener(id, status, error).catch((err: unknown) => {
        this.logger.error({ jobId: id, err }, 'could not report a finished job');
      });
    }
    return finished;
  }
}

export interface JobFinishedDeps {
  redis: RedisClient;
  keys: RedisKeys;
  metrics: Metrics;
  /** Queues a job's callback; absent when callbacks are off. */
  enqueueCallback?: (jobId: string) => Promise<void>;
  /** Told about every finished job (alerting on failure rates and revoked credentials); must not throw. */
  observe?: (job: { jobId: string; status: FinishedStatus; tool: string; integration: string; connection: string; error?: JobError }) => void;
}

/**
 * Counts the finished job by its tool and integration and, when it has a
 * callbackUrl, queues its callback. One HMGET per finished job: the BullMQ
 * payload does not carry the callbackUrl, the job record does.
 */
export function jobFinishedListener(deps: JobFinishedDeps): FinishedListener {
  return async (jobId, status, error) => {
    const [tool, integration, callbackUrl, connection] = await deps.redis.hmget(deps.keys.job(jobId), 'tool', 'integration', 'callbackUrl', 'connection');
    deps.metrics.jobsFinished.inc({ integration: integration ?? 'unknown', tool: tool ?? 'unknown', status });
    deps.observe?.({ jobId, status, tool: tool ?? 'unknown', integration: integration ?? 'unknown', connection: connection ?? 'default', ...(error ? { error } : {}) });
    if (callbackUrl && deps.enqueueCallback) await deps.enqueueCallback(jobId);
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
    const callbackUrl = await deps.redis.hget(deps.keys.job(jobId), 'callbackUrl');
    if (callbackUrl) await deps.enqueueCallback(jobId);
  };
}
