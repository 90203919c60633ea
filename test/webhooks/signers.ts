import { createHmac, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';

/*
 * Test-side signing: Stripe and Standard Webhooks with their own libraries,
 * GitHub and Shopify with HMACs computed here, independently of the api.
 */

export const SECRETS = {
  stripe: 'whsec_stripe_test_secret_0123456789',
  stripeNew: 'whsec_stripe_rotated_secret_abcdef',
  github: 'github-secret-one',
  githubNew: 'github-secret-two',
  shopify: 'shopify-client-secret',
  shopifyNew: 'shopify-client-secret-new',
  // Standard Webhooks secrets are base64 after whsec_.
  standard: `whsec_${Buffer.from('standard-key-0123456789abcdef').toString('base64')}`,
  standardNew: `whsec_${Buffer.from('standard-key-rotated-987654321').toString('base64')}`,
  trigger: `whsec_${Buffer.from('broker-trigger-signing-key-123').toString('base64')}`,
};

export interface Signed {
  headers: Record<string, string>;
  body: string;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/*
 * GitHub and Shopify bodies are deduplicated too (their ids are not signed,
 * docs/webhooks.md#source-types), so each default body carries a `test_nonce` and is unique, as
 * real ones are (they carry update times): two calls are two events unless a
 * test reuses a body on purpose.
 */
const nonce = () => randomUUID();

export function stripeEvent(options: { id?: string; type?: string; secret?: string; timestamp?: number; body?: string } = {}): Signed {
  const id = options.id ?? `evt_${randomUUID().replace(/-/g, '')}`;
  const body = options.body ?? JSON.stringify({ id, object: 'event', type: options.type ?? 'payment_intent.succeeded', data: { object: { id: 'pi_123', amount: 2000 } } });
  const header = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? SECRETS.stripe,
    timestamp: options.timestamp ?? nowSeconds(),
  });
  return { body, headers: { 'content-type': 'application/json', 'stripe-signature': header } };
}

export function githubEvent(options: { delivery?: string; event?: string; action?: string; secret?: string; body?: string } = {}): Signed {
  const body = options.body ?? JSON.stringify({ action: options.action ?? 'opened', issue: { number: 7 }, repository: { full_name: 'octo/demo' }, test_nonce: nonce() });
  const signature = createHmac('sha256', options.secret ?? SECRETS.github)
    .update(body)
    .digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': options.event ?? 'issues',
      'x-github-delivery': options.delivery ?? randomUUID(),
      'x-hub-signature-256': `sha256=${signature}`,
    },
  };
}

export function shopifyEvent(options: { webhookId?: string; topic?: string; secret?: string; body?: string } = {}): Signed {
  const body = options.body ?? JSON.stringify({ id: 4501, total_price: '10.00', test_nonce: nonce() });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': options.topic ?? 'orders/create',
      'x-shopify-webhook-id': options.webhookId ?? randomUUID(),
      'x-shopify-hmac-sha256': createHmac('sha256', options.secret ?? SECRETS.shopify)
        .update(body)
        .digest('base64'),
    },
  };
}

export function standardEvent(options: { id?: string; type?: string; secrets?: string[]; at?: Date; body?: string } = {}): Signed {
  const id = options.id ?? `msg_${randomUUID().replace(/-/g, '')}`;
  const at = options.at ?? new Date();
  const body = options.body ?? JSON.stringify({ type: options.type ?? 'invoice.paid', data: { id: 'inv_1' } });
  const signatures = (options.secrets ?? [SECRETS.standard]).map((s) => new Webhook(s).sign(id, at, body));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signatures.join(' '),
    },
  };
}
