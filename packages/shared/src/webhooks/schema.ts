import { z } from 'zod';

/*
 * Webhook events and trigger deliveries: the api <-> worker contract (the
 * trigger job payload) and the operators' view (docs/webhooks.md#trigger-delivery, docs/webhooks.md#events-api).
 */

/**
 * A provider's event id as we accept it: printable ASCII without spaces, so it
 * can sit in a Redis key, a URL path segment and a log line unescaped.
 */
export const PROVIDER_EVENT_ID = /^[\x21-\x7e]{1,255}$/;

/** `<source>:<eventId>` (docs/webhooks.md#what-post-hookssource-answers), e.g. `stripe:evt_123`. */
export const STORED_EVENT_ID = /^[a-z][a-z0-9_-]{0,62}:[\x21-\x7e]{1,255}$/;

export function storedEventId(source: string, eventId: string): string {
  return `${source}:${eventId}`;
}

/**
 * - `pending`: written with the event, not yet handed to BullMQ (the outbox sweeper
 *   enqueues it if the request that wrote it died first). Stored `pending` until
 *   the worker picks it up; the events API shows it `queued` once its job exists;
 * - `queued`, `delivering`, `retrying` (waiting for its next try), then
 * - `delivered` or `failed` (tries exhausted, or the receiver answered 410).
 */
export const DELIVERY_STATUSES = ['pending', 'queued', 'delivering', 'retrying', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * The payload of a BullMQ trigger job. The event itself (raw body included)
 * stays in its Redis hash; the worker reads it there, so a large body is not
 * copied into every job.
 */
export const triggerJobDataSchema = z.object({
  /** Also the job id and the `webhook-id` of every try of this delivery. */
  deliveryId: z.string().regex(/^dlv_[0-9a-f]{32}$/),
  /** The stored event's id, `<source>:<eventId>`. */
  eventId: z.string().regex(STORED_EVENT_ID),
  source: z.string(),
  trigger: z.string(),
  replay: z.boolean(),
});
export type TriggerJobData = z.infer<typeof triggerJobDataSchema>;

export const eventDeliverySchema = z.object({
  deliveryId: z.string(),
  trigger: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  /** Tries made so far. */
  attempts: z.int().min(0),
  /** A delivery made by `POST /v1/events/{id}/replay`. */
  replay: z.boolean(),
  createdAt: z.string(),
  lastAttemptAt: z.string().optional(),
  deliveredAt: z.string().optional(),
  nextRetryAt: z.string().optional(),
  /** The receiver's HTTP status on the last try. */
  lastStatus: z.int().optional(),
  lastError: z.string().optional(),
});
export type EventDelivery = z.infer<typeof eventDeliverySchema>;

export const eventSummarySchema = z.object({
  id: z.string(),
  source: z.string(),
  eventId: z.string(),
  type: z.string(),
  receivedAt: z.string(),
  verifiedAt: z.string(),
});
export type EventSummary = z.infer<typeof eventSummarySchema>;

/** `GET /v1/events/{id}`. */
export const eventDetailSchema = eventSummarySchema.extend({
  headers: z.record(z.string(), z.string()),
  /** The raw body exactly as received: UTF-8 text, or base64 when it is not valid UTF-8. */
  body: z.string(),
  bodyEncoding: z.enum(['utf8', 'base64']),
  deliveries: z.array(eventDeliverySchema),
});
export type EventDetail = z.infer<typeof eventDetailSchema>;

/** `GET /v1/events`. */
export const eventListSchema = z.object({
  events: z.array(eventSummarySchema),
  nextCursor: z.string().nullable(),
});

/** The answer to `POST /hooks/{source}`. */
export const webhookReceiptSchema = z.object({
  received: z.literal(true),
  id: z.string(),
  eventId: z.string(),
  duplicate: z.boolean(),
});
export type WebhookReceipt = z.infer<typeof webhookReceiptSchema>;

/** `POST /v1/events/{id}/replay` → 202. */
export const replayReceiptSchema = z.object({
  id: z.string(),
  deliveries: z.array(eventDeliverySchema),
});

/** The body of a `format: "standard"` trigger delivery (docs/webhooks.md#trigger-delivery). */
export interface TriggerDeliveryBody {
  trigger: string;
  source: string;
  eventId: string;
  type: string;
  /** The parsed body when it is JSON, else the body as a string. */
  payload: unknown;
  receivedAt: string;
}
