import type { StoredEvent, TriggerDeliveryBody } from '@broker/shared';

/** The payload as the contract has it: the parsed body when it is JSON, else the body as a string. */
export function payloadOf(event: StoredEvent): unknown {
  if (event.bodyEncoding === 'utf8') {
    try {
      return JSON.parse(event.body) as unknown;
    } catch {
      return event.body;
    }
  }
  return event.body;
}

/** `format: "standard"` (CONTRACT §4). */
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
