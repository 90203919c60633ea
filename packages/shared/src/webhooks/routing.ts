import { createHash, randomUUID } from 'node:crypto';
import type { RouteConfig } from '../config/schema';

/**
 * Route `event` patterns: `*` matches every type, a pattern ending in `*`
 * matches every type that starts with what comes before it (`customer.*`
 * matches `customer.created` and `customer.subscription.updated`, not
 * `customer`), anything else matches itself only.
 */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/**
 * The triggers an event fires, in config order. Two routes naming the same
 * trigger fire it once: a delivery is identified by its trigger.
 */
export function matchTriggers(routes: readonly RouteConfig[], source: string, type: string): string[] {
  const triggers: string[] = [];
  for (const route of routes) {
    if (route.source === source && eventTypeMatches(route.event, type) && !triggers.includes(route.trigger)) {
      triggers.push(route.trigger);
    }
  }
  return triggers;
}

/**
 * The id of the delivery of `trigger` for one accepted event: also its BullMQ
 * job id and its `webhook-id`. Derived, never random, so every path that
 * enqueues it (the request, a retried request, the outbox sweeper) names the
 * same job and BullMQ keeps one.
 *
 * `acceptedAt` (the stored event's receivedAt) is part of it because an event
 * id may legitimately come back once its retention has expired; that is a new
 * acceptance and must not collide with a finished job BullMQ still holds.
 * Within the retention every duplicate sees the stored event, hence the same
 * `acceptedAt` and the same id.
 */
export function deliveryIdFor(source: string, eventId: string, trigger: string, acceptedAt: string): string {
  const digest = createHash('sha256').update(`${source}\n${eventId}\n${trigger}\n${acceptedAt}`).digest('hex');
  return `dlv_${digest.slice(0, 32)}`;
}

/** A replay is a new delivery on purpose (docs/webhooks.md#trigger-delivery: new `webhook-id`). */
export function newReplayDeliveryId(): string {
  return `dlv_${randomUUID().replace(/-/g, '')}`;
}
