import { createHmac } from 'node:crypto';

/** The `Stripe-Signature` header Stripe sends with `body`: HMAC-SHA256 of `t.body` with the endpoint secret. */
export function stripeSignature(secret, body) {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}
