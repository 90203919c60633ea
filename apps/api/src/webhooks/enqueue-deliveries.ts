import { triggerJobOptions } from '@broker/shared/webhooks/options';
import type { Logger } from '@broker/shared/logger';
import type { NewDelivery } from '@broker/redis/webhooks/event-store';
import type { TriggerDeliveryConfig } from '@broker/shared/config/schema';
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
 * BullMQ. A failure here loses nothing: the event and its deliveries are
 * stored, and the worker's outbox sweeper enqueues them later under the same
 * job ids. So it is logged, not thrown.
 *
 * Nothing is written back: a delivery leaves the outbox when the worker picks
 * it up (or when the sweeper finds its job already queued), and `GET
 * /v1/events/{id}` shows a pending delivery whose job exists as `queued`.
 * That keeps the hot path at one command per delivery.
 */
export async function enqueueDeliveries(queue: TriggerQueue, request: DeliveriesToEnqueue, logger: Logger): Promise<void> {
  const { eventId, source, deliveries, delivery, retentionMs } = request;
  try {
    // One `add` each rather than `addBulk`: a lone script call shares the
    // turn's socket write (coalesceWrites), where addBulk opens a MULTI of its own.
    await Promise.all(
      deliveries.map((d) =>
        queue.add(d.trigger, { deliveryId: d.deliveryId, eventId, source, trigger: d.trigger, replay: d.replay }, triggerJobOptions(d.deliveryId, delivery, retentionMs)),
      ),
    );
  } catch (err) {
    logger.warn({ eventId, err: (err as Error).message }, 'trigger enqueue failed; the outbox sweeper will enqueue it');
  }
}
