import type { RequestHandler } from 'express';
import { matchTriggers, newReplayDeliveryId } from '@broker/shared/webhooks/routing';
import { OUTBOX_GRACE_MS, webhookRetentionMs } from '@broker/shared/webhooks/options';
import type { EventDelivery } from '@broker/shared/webhooks/schema';
import type { NewDelivery } from '@broker/redis/webhooks/event-store';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark } from '../redis/replicated';
import { enqueueDeliveries } from '../webhooks/enqueue-deliveries';
import { eventNotFound, readEvent } from './get-event';

/** The 503 of a replay no replica confirmed (durability "replicated"). */
const REPLAY_UNCONFIRMED =
  'The replay is on the Redis primary, but no replica confirmed it in time (durability "replicated"): its deliveries may be sent, or lost in a failover. Read the event once Redis answers again before replaying it again.';

/**
 * `POST /v1/events/:id/replay` → 202. Each trigger the event's source and type
 * match under the current routes gets a new delivery (new id, new
 * `webhook-id`, marked `replay`), so a receiver that deduplicates on
 * `webhook-id` sees it as new. The stored raw event is sent as it is: it is
 * not verified again, so its age does not matter. With durability
 * "replicated" the 202 waits for a replica to have the deliveries.
 */
export function replayEvent(ctx: ApiContext): RequestHandler<{ id: string }> {
  const { config, eventStore, triggers, logger } = ctx;
  return async (req, res) => {
    const mark = replicaMark(ctx.redis);
    const event = await readEvent(eventStore, req.params.id);
    const source = config.webhooks[event.source];
    const createdAt = new Date().toISOString();
    const deliveries: NewDelivery[] = source
      ? matchTriggers(config.routes, event.source, event.type).map((trigger) => ({
          deliveryId: newReplayDeliveryId(),
          trigger,
          replay: true,
          createdAt,
        }))
      : [];

    if (deliveries.length > 0 && source && config.triggerDelivery) {
      const delivery = config.triggerDelivery;
      await withRedisDeadline(
        (async () => {
          if (!(await eventStore.addDeliveries(event.id, deliveries, Date.now() + OUTBOX_GRACE_MS))) throw eventNotFound();
          await enqueueDeliveries(triggers, { eventId: event.id, source: event.source, deliveries, delivery, retentionMs: webhookRetentionMs(source) }, logger);
        })(),
      );
      await awaitReplica(ctx, mark, { detail: REPLAY_UNCONFIRMED });
    }
    const accepted: EventDelivery[] = deliveries.map((d) => ({ ...d, status: 'queued', attempts: 0 }));
    res
      .status(202)
      .location(`/v1/events/${encodeURIComponent(event.id)}`)
      .json({ id: event.id, deliveries: accepted });
  };
}
