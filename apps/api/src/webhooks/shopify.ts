import { matchesAnyHmac } from './hmac';
import { eventIdFrom, invalidEvent, invalidSignature, type WebhookVerifier } from './verifier';

/** Base64 of a 32-byte HMAC-SHA256: 43 characters and one `=`. */
const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Shopify (`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the body with the
 * app's client secret). Neither a timestamp nor the id is signed; dedupe on
 * `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`), and on the body for a
 * resend under a new id, stops replays. The type
 * is `X-Shopify-Topic` (`orders/create`).
 */
export const shopifyVerifier: WebhookVerifier = {
  signsEventId: false,
  verify(request, secrets) {
    const header = request.header('x-shopify-hmac-sha256');
    if (!header) throw invalidSignature('Missing X-Shopify-Hmac-Sha256.');
    const signature = header.trim();
    if (!SIGNATURE.test(signature)) throw invalidSignature('X-Shopify-Hmac-Sha256 must be the base64 of a 32-byte HMAC-SHA256.');
    if (!matchesAnyHmac(Buffer.from(signature, 'base64'), secrets, request.body)) {
      throw invalidSignature('X-Shopify-Hmac-Sha256 does not match the body.');
    }
    const webhookId = request.header('x-shopify-webhook-id');
    const eventId = webhookId ? eventIdFrom(webhookId, 'X-Shopify-Webhook-Id') : eventIdFrom(request.header('x-shopify-event-id'), 'X-Shopify-Webhook-Id or X-Shopify-Event-Id');
    const topic = request.header('x-shopify-topic');
    if (!topic) throw invalidEvent('Missing X-Shopify-Topic.');
    return { eventId, type: topic };
  },
};
