import { deliveryIdFor, matchTriggers } from '@broker/shared/webhooks/routing';
import { OUTBOX_GRACE_MS, webhookRetentionMs } from '@broker/shared/webhooks/options';
import { storedEventId } from '@broker/shared/webhooks/schema';
import type { BrokerConfig, WebhookSourceConfig } from '@broker/shared/config/schema';
import type { EventStore, NewDelivery } from '@broker/redis/webhooks/event-store';
import type { Logger } from '@broker/shared/logger';
import type { CorrelateEvent } from './correlate';
import { enqueueDeliveries } from './enqueue-deliveries';
import type { TriggerQueue } from './trigger-queue';

export interface IngestDeps {
  config: BrokerConfig;
  store: EventStore;
  queue: TriggerQueue;
  logger: Logger;
  /** Completes async jobs waiting for this event (correlate.ts). */
  correlate?: CorrelateEvent;
}

export interface VerifiedEvent {
  source: string;
  sourceConfig: WebhookSourceConfig;
  eventId: string;
  type: string;
  body: Buffer;
  headers: Record<string, string>;
  receivedAt: Date;
  verifiedAt: Date;
  /** Also a duplicate: a body already stored under another id (the source's signature does not cover its ids). */
  dedupeBody: boolean;
}

/**
 * What `POST /hooks/{source}` answers with: for a duplicate, the event
 * already stored (`eventId` its provider id, which differs from the request's
 * when only the body matched), so the answer names what was stored.
 */
export interface IngestOutcome {
  id: string;
  eventId: string;
  duplicate: boolean;
}

/**
 * Stores a verified event and enqueues its triggers. The store's one script
 * claims the event id (dedupe, for the source's retention) and, with
 * `dedupeBody`, the body's SHA-256 for as long, writes the raw
 * event and its pending deliveries, and indexes it; only a request that made
 * the claim enqueues anything, so a duplicate (even a concurrent one) never
 * produces a second trigger. Runs to the end even when the HTTP request gave
 * up waiting on it (see withRedisDeadline).
 */
export async function ingestEvent(deps: IngestDeps, event: VerifiedEvent): Promise<IngestOutcome> {
  const { config, store, queue, logger } = deps;
  const id = storedEventId(event.source, event.eventId);
  const acceptedAt = event.receivedAt.toISOString();
  const deliveries: NewDelivery[] = matchTriggers(config.routes, event.source, event.type).map((trigger) => ({
    deliveryId: deliveryIdFor(event.source, event.eventId, trigger, acceptedAt),
    trigger,
    replay: false,
    createdAt: acceptedAt,
  }));
  const retentionMs = webhookRetentionMs(event.sourceConfig);

  const created = await store.ingest(
    {
      id,
      source: event.source,
      eventId: event.eventId,
      type: event.type,
      receivedAt: event.receivedAt,
      verifiedAt: event.verifiedAt,
      headers: event.headers,
      body: event.body,
    },
    deliveries,
    { retentionMs, outboxAt: Date.now() + OUTBOX_GRACE_MS, dedupeBody: event.dedupeBody },
  );
  if (created.duplicate) {
    if (created.id !== id) {
      // A signed body resent under a new id: a replay of a captured request, or a provider sending one event twice.
      logger.info({ eventId: id, storedAs: created.id }, 'webhook body already stored under another id; answered as a duplicate');
    }
    return { id: created.id, eventId: created.id.slice(event.source.length + 1), duplicate: true };
  }
  const { correlationPaths } = created;

  // Independent follow-ups of a new event, sent together: one round trip deep
  // instead of one after another. The event and its pending deliveries are
  // already stored, so none of them can lose it.
  await Promise.all([
    config.triggerDelivery ? enqueueDeliveries(queue, { eventId: id, source: event.source, deliveries, delivery: config.triggerDelivery, retentionMs }, logger) : undefined,
    // Only when async jobs wait on this source and type. The event's triggers
    // fire as usual; a failure loses nothing: the waiting job looks in the
    // stored events at its deadline.
    correlationPaths.length === 0
      ? undefined
      : deps.correlate?.({ id, source: event.source, type: event.type, body: event.body, paths: correlationPaths }).catch((err: unknown) => {
          logger.warn({ eventId: id, err: (err as Error).message }, 'webhook correlation failed; waiting jobs will find the event by their deadline');
        }),
  ]);
  return { id, eventId: event.eventId, duplicate: false };
}

/**
 * Credential headers, never stored: every events:read caller sees an event's
 * headers. The exact names a client or proxy sends credentials in, then any
 * name with a credential word (`x-api-key`, `x-gitlab-token`,
 * `cf-access-client-secret`, `x-auth-token`, `x-shopify-access-token`), but
 * not a bare `key` (`idempotency-key` is an id). Not
 * signature headers (`stripe-signature`, `x-hub-signature-256`,
 * `x-shopify-hmac-sha256`, `webhook-signature`): once verified a signature
 * proves nothing to anyone without the secret, and it is what an operator
 * checks a disputed event against (docs/webhooks.md#stored-headers).
 */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'set-cookie']);
const CREDENTIAL_WORDS = /(^|-)(auth|authorization|token|secret|password|passwd|api-?key|access-key|functions-key|subscription-key|credentials?|session|jwt)(-|$)/i;

/** Whether a request header carries a credential (see {@link CREDENTIAL_HEADERS}). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase()) || CREDENTIAL_WORDS.test(name);
}

/** Request headers worth keeping with the event; credentials a client or proxy may add are not. */
export function storableHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isCredentialHeader(name)) continue;
    kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return kept;
}
