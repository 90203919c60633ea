import type { Queue } from 'bullmq';
import { triggerJobOptions, webhookRetentionMs, type BrokerConfig, type EventStore, type Logger, type TriggerJobData } from '@broker/shared';

/** @defaultValue 5000 */
export const OUTBOX_SWEEP_INTERVAL_MS = 5000;

/**
 * The api writes an event's deliveries (pending, in the outbox) in the same
 * script as the event, then enqueues them. If it dies or loses Redis between
 * the two, the event is acknowledged but nothing would deliver it; this
 * sweeper enqueues such deliveries once they are overdue. Job ids are the
 * delivery ids, so a delivery enqueued twice is one job.
 */
export class OutboxSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly deps: { config: BrokerConfig; store: EventStore; queue: Queue<TriggerJobData>; logger: Logger },
    private readonly intervalMs = OUTBOX_SWEEP_INTERVAL_MS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.sweep().catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'outbox sweep failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Enqueues every overdue pending delivery; returns how many it enqueued. One sweep at a time. */
  sweep(now = Date.now()): Promise<number> {
    this.running ??= this.sweepOnce(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweepOnce(now: number): Promise<number> {
    const { config, store, queue, logger } = this.deps;
    let enqueued = 0;
    for (const entry of await store.duePending(now, Object.keys(config.webhooks))) {
      const info = await store.deliveryInfo(entry);
      const source = info && config.webhooks[info.source];
      if (!info || info.status !== 'pending' || !source || !config.triggerDelivery) {
        await store.dropFromOutbox(entry);
        continue;
      }
      const data: TriggerJobData = { deliveryId: entry.deliveryId, eventId: entry.eventId, source: info.source, trigger: info.trigger, replay: info.replay };
      await queue.add(info.trigger, data, triggerJobOptions(entry.deliveryId, config.triggerDelivery, webhookRetentionMs(source)));
      await store.markQueued(entry.eventId, [entry.deliveryId]);
      logger.warn({ eventId: entry.eventId, deliveryId: entry.deliveryId }, 'enqueued a delivery its request did not');
      enqueued++;
    }
    return enqueued;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
