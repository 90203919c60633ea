import { Queue, Worker } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix, CALLBACKS_QUEUE } from '@broker/shared/queues';
import {
  CALLBACK_BACKOFF_TYPE,
  CALLBACK_BASE_DELAY_MS,
  CALLBACK_JOB_NAME,
  CALLBACK_MAX_DELAY_MS,
  callbackJobOptions,
  type CallbackJobData,
} from '@broker/shared/jobs/callback-job';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { Lookup } from '@broker/shared/net/ip-policy';
import type { Metrics } from '@broker/shared/metrics';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { callbackBackoff } from './classify';
import { CallbackRetryError, createCallbackProcessor } from './process-callback';

export interface CallbackWorkerDeps {
  /** Its `callbacks` section must be set. */
  config: BrokerConfig;
  redis: RedisClient;
  prefix: string;
  store: JobStore;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
  lookup?: Lookup;
  /** Deliveries at once per worker process (they wait on the network, not the CPU). @defaultValue 20 */
  concurrency?: number;
  /** First retry delay; tests shorten it. @defaultValue CALLBACK_BASE_DELAY_MS */
  baseDelayMs?: number;
  /** Per try. @defaultValue 10000 */
  timeoutMs?: number;
}

export interface CallbackWorker {
  queue: Queue<CallbackJobData>;
  worker: Worker<CallbackJobData>;
  /** Queues the callback of a finished job; a second call for the same job is a no-op. */
  /** `retries`: the run whose end this is (see callbackJobId). @defaultValue 0 */
  enqueue(jobId: string, retries?: number): Promise<void>;
  close(): Promise<void>;
}

/** The worker that drains CALLBACKS_QUEUE; undefined when the config has no `callbacks` section. */
export function createCallbackWorker(deps: CallbackWorkerDeps): CallbackWorker | undefined {
  const { config, redis, prefix, logger } = deps;
  const callbacks = config.callbacks;
  if (!callbacks) return undefined;
  const baseDelayMs = deps.baseDelayMs ?? CALLBACK_BASE_DELAY_MS;

  const queue = new Queue<CallbackJobData>(CALLBACKS_QUEUE, { connection: redis, prefix: bullPrefix(prefix, CALLBACKS_QUEUE) });
  queue.on('error', (err) => logger.warn({ queue: CALLBACKS_QUEUE, err: err.message }, 'queue error'));
  const processor = createCallbackProcessor({
    callbacks,
    store: deps.store,
    secrets: deps.secrets,
    logger: logger.child({ queue: CALLBACKS_QUEUE }),
    metrics: deps.metrics,
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
    ...(deps.timeoutMs ? { timeoutMs: deps.timeoutMs } : {}),
  });
  const worker = new Worker<CallbackJobData>(CALLBACKS_QUEUE, processor, {
    connection: redis,
    prefix: bullPrefix(prefix, CALLBACKS_QUEUE),
    concurrency: deps.concurrency ?? 20,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
        if (type !== CALLBACK_BACKOFF_TYPE) return 0;
        const backoff = callbackBackoff(attemptsMade, baseDelayMs, CALLBACK_MAX_DELAY_MS);
        return err instanceof CallbackRetryError && err.retryAfterMs !== undefined ? Math.max(backoff, err.retryAfterMs) : backoff;
      },
    },
  });
  worker.on('error', (err) => logger.error({ err, queue: CALLBACKS_QUEUE }, 'worker error'));

  return {
    queue,
    worker,
    async enqueue(jobId, retries = 0) {
      await queue.add(CALLBACK_JOB_NAME, { jobId }, callbackJobOptions(jobId, config.retention.jobSeconds, retries));
    },
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
