import { randomBytes } from 'node:crypto';
import { dropPrefix, startApi, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { compareHttp, load, startBare } from '../lib/http-compare.mjs';
import { stripeSignature } from '../lib/stripe-signature.mjs';
import { TARGETS } from '../lib/targets.mjs';

const SECRET = `whsec_${randomBytes(24).toString('hex')}`;

/** A new Stripe event per request, signed the way Stripe signs (`t.body`, HMAC-SHA256). */
function signedEvent() {
  const body = JSON.stringify({
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    data: { object: { id: `pi_${randomBytes(8).toString('hex')}`, amount: 2000, currency: 'eur' } },
  });
  return { body, signature: stripeSignature(SECRET, body) };
}

/** `POST /hooks/stripe` (verify, persist, dedupe, route) vs a bare raw handler doing HMAC, SET NX and one queue.add. */
export async function ingest({ quick }) {
  const prefix = uniquePrefix('ingest');
  const api = await startApi({
    BROKER_CONFIG: writeConfig({
      webhooks: { stripe: { type: 'stripe', secret: 'BENCH_STRIPE_SECRET' } },
      routes: [{ source: 'stripe', event: 'payment_intent.succeeded', trigger: 'process_successful_payment' }],
      triggerDelivery: { url: 'http://127.0.0.1:9/unused', secret: 'BENCH_TRIGGER_SECRET' },
    }),
    BROKER_REDIS_PREFIX: prefix,
    BENCH_STRIPE_SECRET: SECRET,
    BENCH_TRIGGER_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  });
  const bare = await startBare('ingest-server.mjs', { BENCH_PREFIX: prefix, BENCH_STRIPE_SECRET: SECRET });
  try {
    return {
      target: `ratio >= ${TARGETS.ingest}`,
      ...(await compareHttp({
        quick,
        ours: api.url,
        bare: bare.url,
        run: (url, connections, duration) =>
          load({
            url: `${url}/hooks/stripe`,
            method: 'POST',
            connections,
            duration,
            requests: [
              {
                setupRequest: (req) => {
                  const { body, signature } = signedEvent();
                  return { ...req, body, headers: { ...req.headers, 'content-type': 'application/json', 'stripe-signature': signature } };
                },
              },
            ],
          }),
      })),
    };
  } finally {
    api.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await api.exited;
    await dropPrefix(prefix);
  }
}
