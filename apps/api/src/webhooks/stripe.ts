import Stripe from 'stripe';
import { eventIdFrom, invalidEvent, invalidSignature, type WebhookVerifier } from './verifier';

/** Stripe's default, named so the contract's 300 s is visible here. @defaultValue 300 */
export const STRIPE_TOLERANCE_SECONDS = 300;

/**
 * The `t=` Stripe's parser uses (the last one). Stripe's tolerance only
 * bounds age; a timestamp far in the future is refused here as well, so a
 * signature cannot be made to stay "fresh" for longer than the tolerance.
 */
function signedAt(header: string): number | undefined {
  let t: number | undefined;
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') t = Number.parseInt(value ?? '', 10);
  }
  return t !== undefined && Number.isFinite(t) ? t : undefined;
}

/**
 * Stripe (`Stripe-Signature`), verified by the SDK's `webhooks.constructEvent`
 * on the raw bytes. Event id and type come from the verified body.
 */
export const stripeVerifier: WebhookVerifier = {
  // The id is the signed body's `id`.
  signsEventId: true,
  verify(request, secrets) {
    const header = request.header('stripe-signature');
    if (!header) throw invalidSignature('Missing Stripe-Signature.');
    // The SDK compares lengths in characters, then bytes with timingSafeEqual,
    // which throws when a non-ASCII character makes the byte lengths differ.
    if (!/^[\x20-\x7e]+$/.test(header)) throw invalidSignature('Stripe-Signature must be printable ASCII.');

    let event: { id?: unknown; type?: unknown } | undefined;
    let stale = false;
    for (const secret of secrets) {
      try {
        event = Stripe.webhooks.constructEvent(request.body, header, secret, STRIPE_TOLERANCE_SECONDS);
        break;
      } catch (err) {
        if ((err as { type?: string }).type !== 'StripeSignatureVerificationError') {
          // Verified, then unusable: a body that is not JSON, or a thin (v2) event notification.
          throw invalidEvent('The signed body is not a Stripe snapshot event.');
        }
        if (/tolerance/i.test((err as Error).message)) stale = true;
      }
    }
    if (!event) {
      throw invalidSignature(stale ? `The Stripe-Signature timestamp is more than ${STRIPE_TOLERANCE_SECONDS} s old.` : 'No signature in Stripe-Signature matches the body.');
    }
    const t = signedAt(header);
    if (t === undefined || t > Math.floor(Date.now() / 1000) + STRIPE_TOLERANCE_SECONDS) {
      throw invalidSignature(`The Stripe-Signature timestamp is more than ${STRIPE_TOLERANCE_SECONDS} s in the future.`);
    }
    const eventId = eventIdFrom(event.id, 'the body\'s "id"');
    if (typeof event.type !== 'string' || event.type === '') throw invalidEvent('The event has no "type".');
    return { eventId, type: event.type };
  },
};
