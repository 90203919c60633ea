import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { STORED_EVENT_ID, type EventDetail } from '@broker/shared/webhooks/schema';
import type { EventStore, StoredEvent } from '@broker/redis/webhooks/event-store';
import type { ApiContext } from '../context';
import { withQueuedStatus } from '../webhooks/delivery-status';
import { withRedisDeadline } from '../redis/deadline';

export const eventNotFound = () => new ProblemError('NOT_FOUND', 'No such event (unknown, or past its retention).');

/** Reads a stored event; an id that cannot name one is refused before any Redis work. */
export async function readEvent(store: EventStore, id: string): Promise<StoredEvent> {
  if (!STORED_EVENT_ID.test(id)) throw eventNotFound();
  const event = await withRedisDeadline(store.get(id));
  if (!event) throw eventNotFound();
  return event;
}

/**
 * `GET /v1/events/:id` (`<source>:<eventId>`, e.g. `stripe:evt_123`): the raw
 * body and headers as received, the timestamps, and every delivery of its
 * triggers with its status.
 */
export function getEvent({ eventStore, triggers }: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const { rawBody: _raw, ...event } = await readEvent(eventStore, req.params.id);
    const detail: EventDetail = { ...event, deliveries: await withRedisDeadline(withQueuedStatus(event.deliveries, triggers)) };
    res.json(detail);
  };
}
