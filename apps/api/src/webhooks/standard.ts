import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { eventIdFrom, invalidEvent, invalidSignature, jsonObject, type WebhookVerifier } from './verifier';

/**
 * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
 * verified by the `standardwebhooks` library: ±300 s around the timestamp,
 * and any of several space-separated signatures in the header may match.
 * Secrets are `whsec_<base64>` as the spec has them. The event id is
 * `webhook-id`; the type is the body's `type` (the spec requires one).
 */
export const standardVerifier: WebhookVerifier = {
  // The signed content is `<webhook-id>.<timestamp>.<body>`.
  signsEventId: true,
  verify(request, secrets) {
    const headers = {
      'webhook-id': request.header('webhook-id') ?? '',
      'webhook-timestamp': request.header('webhook-timestamp') ?? '',
      'webhook-signature': request.header('webhook-signature') ?? '',
    };
    const missing = Object.entries(headers)
      .filter(([, v]) => v === '')
      .map(([k]) => k);
    if (missing.length > 0) throw invalidSignature(`Missing ${missing.join(', ')}.`);

    let verified = false;
    let usable = 0;
    let reason = 'No signature in webhook-signature matches the body.';
    for (const secret of secrets) {
      let hook: Webhook;
      try {
        hook = new Webhook(secret);
      } catch {
        continue; // not base64: skipped, and reported below if no secret is usable
      }
      usable++;
      try {
        hook.verify(request.body, headers, { jsonParse: false });
        verified = true;
        break;
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
        if (/too old|too new|Invalid Signature Headers/.test(err.message)) {
          reason = err.message.includes('Invalid')
            ? 'webhook-timestamp must be Unix seconds.'
            : `The webhook-timestamp is ${err.message.includes('old') ? 'more than 300 s old' : 'more than 300 s in the future'}.`;
        }
      }
    }
    // A misconfigured secret is our fault, not the sender's: a 500, which providers retry.
    if (usable === 0) throw new Error('no usable Standard Webhooks secret (expected whsec_<base64>)');
    if (!verified) throw invalidSignature(reason);

    const eventId = eventIdFrom(headers['webhook-id'], 'webhook-id');
    const type = jsonObject(request.body)?.type;
    if (typeof type !== 'string' || type === '') throw invalidEvent('The body has no "type" (Standard Webhooks requires one).');
    return { eventId, type };
  },
};
