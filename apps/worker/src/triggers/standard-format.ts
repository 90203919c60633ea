import type { StoredEvent } from '@broker/redis/webhooks/event-store';
import type { TriggerDeliveryBody } from '@broker/shared/webhooks/schema';

/** The payload as the contract has it: the parsed body when it is JSON, else the body as a string. */
/**
 * Nesting beyond this is sent as the body's text: JSON.stringify recurses and
 * overflows the stack on a body a few thousand levels deep, which would fail
 * the delivery on every retry. No real provider nests anywhere near it.
 * @defaultValue 512
 */
export const MAX_PAYLOAD_DEPTH = 512;

function deeperThan(value: unknown, limit: number): boolean {
  // Iterative, so the check itself cannot overflow the stack.
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The parsed body when it is JSON (and not absurdly deep), else the body as a string (docs/webhooks.md#trigger-delivery). */
export function payloadOf(event: StoredEvent): unknown {
  if (event.bodyEncoding === 'utf8') {
    try {
      const parsed = JSON.parse(event.body) as unknown;
      return deeperThan(parsed, MAX_PAYLOAD_DEPTH) ? event.body : parsed;
    } catch {
      return event.body;
    }
  }
  return event.body;
}

/** `format: "standard"` (docs/webhooks.md#trigger-delivery). */
export function standardBody(event: StoredEvent, trigger: string): TriggerDeliveryBody {
  return {
    trigger,
    source: event.source,
    eventId: event.eventId,
    type: event.type,
    payload: payloadOf(event),
    receivedAt: event.receivedAt,
  };
}
