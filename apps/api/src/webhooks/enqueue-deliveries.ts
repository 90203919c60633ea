import {
  triggerJobOptions,
  type EventStore,
  type Logger,
  type NewDelivery,
  type TriggerDeliveryConfig,
} from '@broker/shared';
import type { TriggerQueue } from './trigger-queue';

export interface DeliveriesToEnqueue {
  /** The stored event's id, `<source>:<eventId>`. */
  eventId: string;
  source: string;
  deliveries: readonly NewDelivery[];
  delivery: TriggerDeliveryConfig;
  retentionMs: number;
}

/**
 * Hands deliveries that are already written (pending, in the outbox) to
 * BullMQ, then marks them queued. A failure here loses nothing: the event and
 * its deliveries are stored, and the worker's outbox sweeper enqueues them
 * later under the same job ids. So it is logged, not thrown.
 */
export async function enqueueDeliveries(
  store: EventStore,
  queue: TriggerQueue,
  request: DeliveriesToEnqueue,
  logger: Logger,
): Promise<void> {
  const { eventId, source, deliveries, delivery, retentionMs } = request;
  if (deliveries.length === 0) return;
  try {
    await queue.addBulk(
      deliveries.map((d) => ({
        name: d.trigger,
        data: { deliveryId: d.deliveryId, eventId, source, trigger: d.trigger, replay: d.replay },
        opts: triggerJobOptions(d.deliveryId, delivery, retentionMs),
      })),
    );
    await store.markQueued(eventId, deliveries.map((d) => d.deliveryId));
  } catch (err) {
    logger.warn({ eventId, err: (err as Error).message }, 'trigger enqueue failed; the outbox sweeper will enqueue it');
  }
}
