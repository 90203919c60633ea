import { matchesAnyHmac } from './hmac';
import { eventIdFrom, invalidEvent, invalidSignature, jsonObject, type WebhookRequest, type WebhookVerifier } from './verifier';

/** GitHub's format: `sha256=` and the hex HMAC-SHA256 of the body with the webhook secret. */
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * The payload, whichever content type the webhook was created with: JSON, or
 * `application/x-www-form-urlencoded` with the JSON in a `payload` field.
 */
function payloadOf(request: WebhookRequest): Record<string, unknown> | undefined {
  const text = request.body.toString('utf8');
  if ((request.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    return payload === null ? undefined : jsonObject(payload);
  }
  return jsonObject(text);
}

/**
 * GitHub (`X-Hub-Signature-256`). GitHub signs no timestamp and not
 * `X-GitHub-Delivery`, so replays of a captured request are stopped by dedupe,
 * not by age: on the delivery id, and on the body for a resend under a new id.
 * The type is `X-GitHub-Event`, plus `.action` when the payload has one
 * (`issues.opened`, `pull_request.closed`; `push` and `ping` have none).
 */
export const githubVerifier: WebhookVerifier = {
  signsEventId: false,
  verify(request, secrets) {
    const header = request.header('x-hub-signature-256');
    if (!header) throw invalidSignature('Missing X-Hub-Signature-256.');
    const hex = SIGNATURE.exec(header.trim())?.[1];
    if (!hex) throw invalidSignature('X-Hub-Signature-256 must be "sha256=" followed by 64 hex digits.');
    if (!matchesAnyHmac(Buffer.from(hex, 'hex'), secrets, request.body)) {
      throw invalidSignature('X-Hub-Signature-256 does not match the body.');
    }
    const eventId = eventIdFrom(request.header('x-github-delivery'), 'X-GitHub-Delivery');
    const event = request.header('x-github-event');
    if (!event) throw invalidEvent('Missing X-GitHub-Event.');
    const action = payloadOf(request)?.action;
    return { eventId, type: typeof action === 'string' && action !== '' ? `${event}.${action}` : event };
  },
};
