import type { Queue } from 'bullmq';
import { triggerJobOptions, webhookRetentionMs } from '@broker/shared/webhooks/options';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { EventStore, OutboxEntry } from '@broker/redis/webhooks/event-store';
import type { Logger } from '@broker/shared/logger';
import type { TriggerJobData } from '@broker/shared/webhooks/schema';

/** @defaultValue 5000 */
export const OUTBOX_SWEEP_INTERVAL_MS = 5000;

/** Outbox entries read per source and page; a sweep reads pages until none is due (at most MAX_PAGES). */
const PAGE = 200;
const MAX_PAGES = 25;

/**
 * The api writes an event's deliveries (pending, in the outbox) in the same
 * script as the event, then enqueues them. If it dies or loses Redis between
 * the two, the event is acknowledged but nothing would deliver it; this
 * sweeper enqueues such deliveries once they are overdue. Job ids are the
 * delivery ids, so a delivery enqueued twice is one job.
 *
 * A delivery normally leaves the outbox when the worker picks it up. One still
 * there when due is usually just waiting behind a backlog: its job exists, so
 * the sweeper only marks it queued. Only a job that is missing is enqueued
 * (and logged).
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
    const sources = Object.keys(this.deps.config.webhooks);
    let enqueued = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      // Every entry handled below leaves the outbox, so the next read sees the next ones.
      const due = await this.deps.store.duePending(now, sources, PAGE);
      const outcomes = await Promise.all(due.map((entry) => this.settle(entry)));
      enqueued += outcomes.filter((o) => o === 'enqueued').length;
      if (due.length < PAGE) break;
    }
    return enqueued;
  }

  /** Takes one overdue entry out of the outbox: dropped, marked queued, or enqueued then marked. */
  private async settle(entry: OutboxEntry): Promise<'dropped' | 'queued' | 'enqueued'> {
    const { config, store, queue, logger } = this.deps;
    const info = await store.deliveryInfo(entry);
    const source = info && config.webhooks[info.source];
    if (!info || info.status !== 'pending' || !source || !config.triggerDelivery) {
      await store.dropFromOutbox(entry);
      return 'dropped';
    }
    const missing = (await queue.getJobState(entry.deliveryId)) === 'unknown';
    if (missing) {
      const data: TriggerJobData = { deliveryId: entry.deliveryId, eventId: entry.eventId, source: info.source, trigger: info.trigger, replay: info.replay };
      await queue.add(info.trigger, data, triggerJobOptions(entry.deliveryId, config.triggerDelivery, webhookRetentionMs(source)));
    }
    await store.markQueued(entry.eventId, [entry.deliveryId]);
    if (!missing) return 'queued';
    logger.warn({ eventId: entry.eventId, deliveryId: entry.deliveryId }, 'enqueued a delivery its request did not');
    return 'enqueued';
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
