import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { EventStore } from '@broker/redis/webhooks/event-store';
import { redisKeys } from '@broker/redis/keys';
import { TRIGGER_BACKOFF_TYPE } from '@broker/shared/webhooks/options';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import type { TriggerJobData } from '@broker/shared/webhooks/schema';
import { triggerBackoffMs } from './backoff';
import { createTriggerProcessor, type TriggerDeliveryDeps } from './deliver-trigger';
import { DeliveryRetryError } from './delivery-retry-error';
import { OutboxSweeper } from './outbox-sweeper';

export interface TriggerWorkerDeps {
  config: BrokerConfig;
  /** A worker-role connection; BullMQ duplicates it for blocking reads. */
  redis: RedisClient;
  prefix: string;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** @defaultValue OUTBOX_SWEEP_INTERVAL_MS */
  outboxSweepMs?: number;
  /** Told when a delivery gives up for good (alerting). */
  onExhausted?: TriggerDeliveryDeps['onExhausted'];
}

export interface TriggerWorker {
  worker: Worker<TriggerJobData>;
  sweeper: OutboxSweeper;
  ready(): Promise<void>;
  close(): Promise<void>;
}

const TERMINAL = new Set(['delivered', 'failed']);

/**
 * Delivers webhook triggers to `triggerDelivery.url` (undefined when the
 * config has none), and sweeps the outbox for deliveries whose request died
 * before enqueueing them.
 */
export function createTriggerWorker(deps: TriggerWorkerDeps): TriggerWorker | undefined {
  const { config, redis, prefix, logger } = deps;
  const delivery = config.triggerDelivery;
  if (!delivery) return undefined;
  const store = new EventStore(redis, redisKeys(prefix));
  const queue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection: redis, prefix: bullPrefix(prefix, TRIGGERS_QUEUE) });
  const sweeper = new OutboxSweeper({ config, store, queue, logger }, deps.outboxSweepMs);

  const worker = new Worker<TriggerJobData>(
    TRIGGERS_QUEUE,
    createTriggerProcessor({ config, delivery, store, secrets: deps.secrets, logger, metrics: deps.metrics, ...(deps.onExhausted ? { onExhausted: deps.onExhausted } : {}) }),
    {
      connection: redis,
      prefix: bullPrefix(prefix, TRIGGERS_QUEUE),
      concurrency: delivery.concurrency,
      lockDuration: deps.lockDurationMs ?? 30_000,
      stalledInterval: deps.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
          if (err instanceof DeliveryRetryError) return err.delayMs;
          if (type !== TRIGGER_BACKOFF_TYPE) return 0;
          return triggerBackoffMs(attemptsMade, delivery.retry);
        },
      },
    },
  );
  worker.on('failed', (job: Job<TriggerJobData> | undefined, err: Error) => {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (!final) return;
    // The processor records its own outcomes; this catches what escaped it
    // (Redis errors, exhausted stalls) so no delivery stays open forever.
    void (async () => {
      const current = (await store.get(job.data.eventId))?.deliveries.find((d) => d.deliveryId === job.data.deliveryId);
      if (!current || TERMINAL.has(current.status)) return;
      await store.updateDelivery(job.data.eventId, job.data.deliveryId, { status: 'failed', lastError: err.message }, ['nextRetryAt']);
      deps.metrics.triggerDeliveries.inc({ trigger: job.data.trigger, outcome: 'failed' });
      deps.onExhausted?.({ trigger: job.data.trigger, eventId: job.data.eventId, deliveryId: job.data.deliveryId, attempts: job.attemptsMade, lastError: err.message });
    })().catch((e: unknown) => logger.error({ err: e, deliveryId: job.data.deliveryId }, 'could not record a failed delivery'));
  });
  worker.on('error', (err) => logger.error({ err }, 'trigger worker error'));

  let closing: Promise<void> | undefined;
  return {
    worker,
    sweeper,
    async ready() {
      await worker.waitUntilReady();
      sweeper.start();
    },
    close() {
      closing ??= (async () => {
        await sweeper.stop();
        await worker.close();
        await queue.close();
      })();
      return closing;
    },
  };
}
