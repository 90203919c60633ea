import { ProblemError } from '@broker/shared/errors/problem';
import { PROVIDER_EVENT_ID } from '@broker/shared/webhooks/schema';

/** What a verifier sees of a request: the raw bytes, never a parsed body. */
export interface WebhookRequest {
  body: Buffer;
  /** A request header by case-insensitive name. */
  header(name: string): string | undefined;
}

/** What a verified request told us: the provider's event id (for dedupe) and the event type (for routing). */
export interface VerifiedWebhook {
  eventId: string;
  type: string;
}

/**
 * One per source `type`. `secrets` are the values of the source's secret
 * (several during a rotation); a signature made with any of them is valid.
 * Throws a ProblemError: INVALID_SIGNATURE for a missing, malformed, wrong or
 * stale signature, BAD_REQUEST for a signed request that names no event.
 */
export interface WebhookVerifier {
  /**
   * Whether the signature covers the event id. When it does not (GitHub's
   * `X-GitHub-Delivery`, Shopify's `X-Shopify-Webhook-Id` are headers outside
   * the HMAC), a captured body could be resent under a new id, so the body
   * itself is deduplicated too (docs/webhooks.md#source-types).
   */
  readonly signsEventId: boolean;
  verify(request: WebhookRequest, secrets: readonly string[]): VerifiedWebhook;
}

export function invalidSignature(detail: string): ProblemError {
  return new ProblemError('INVALID_SIGNATURE', detail);
}

/** The signature is good but the event cannot be identified: retrying it will not help, so no 5xx. */
export function invalidEvent(detail: string): ProblemError {
  return new ProblemError('BAD_REQUEST', detail);
}

/** A provider's event id, checked to be usable as a key and in a URL. */
export function eventIdFrom(value: unknown, where: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw invalidEvent(`The event has no id (${where}).`);
  const id = String(value);
  if (!PROVIDER_EVENT_ID.test(id)) throw invalidEvent(`The event id in ${where} must be 1–255 printable ASCII characters without spaces.`);
  return id;
}

/** The body as a JSON object, or undefined when it is not one. */
export function jsonObject(body: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
