#!/usr/bin/env node
// Signs a test webhook event the way each provider does, then prints a curl command
// for it, or sends it with --send. No dependencies: the signatures are the providers'
// documented HMACs, the same ones the broker checks with the providers' libraries.
//
//   node scripts/sign-webhook.mjs stripe --send
//   node scripts/sign-webhook.mjs github --type issues.opened
//   node scripts/sign-webhook.mjs shopify --secret "$SHOPIFY_WEBHOOK_SECRET" --send
//   node scripts/sign-webhook.mjs standard --source acme --body '{"type":"invoice.paid","data":{"id":"inv_1"}}' --send

import { createHmac, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

const DEFAULTS = {
  stripe: { source: 'stripe', secretEnv: 'STRIPE_WEBHOOK_SECRET', type: 'payment_intent.succeeded' },
  github: { source: 'github', secretEnv: 'GITHUB_WEBHOOK_SECRET', type: 'issues.opened' },
  shopify: { source: 'shopify', secretEnv: 'SHOPIFY_WEBHOOK_SECRET', type: 'orders/create' },
  standard: { source: 'acme', secretEnv: 'ACME_WEBHOOK_SECRET', type: 'invoice.paid' },
};

const USAGE = `usage: node scripts/sign-webhook.mjs <stripe|github|shopify|standard> [options]
  --secret VALUE  signing secret (default: $STRIPE_WEBHOOK_SECRET, $GITHUB_WEBHOOK_SECRET,
                  $SHOPIFY_WEBHOOK_SECRET or $ACME_WEBHOOK_SECRET; the first of a comma list)
  --source NAME   webhook source in the URL (default: stripe, github, shopify, acme)
  --url URL       the broker's base URL (default: $BROKER_URL, else http://localhost:8080)
  --type TYPE     event type (github: "<event>.<action>" or "<event>")
  --id ID         event id (default: a new random one)
  --body JSON     the body (default: a small sample event of that type)
  --timestamp S   Unix seconds to sign with (default: now; try an old one to see a 400)
  --send          POST it and print the answer instead of a curl command`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    secret: { type: 'string' },
    source: { type: 'string' },
    url: { type: 'string', default: process.env.BROKER_URL || 'http://localhost:8080' },
    type: { type: 'string' },
    id: { type: 'string' },
    body: { type: 'string' },
    timestamp: { type: 'string' },
    send: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const kind = positionals[0];
if (values.help || !kind || !(kind in DEFAULTS)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const defaults = DEFAULTS[/** @type {keyof typeof DEFAULTS} */ (kind)];
const secret = (values.secret ?? process.env[defaults.secretEnv] ?? '').split(',')[0]?.trim();
if (!secret) {
  process.stderr.write(`no secret: pass --secret or set ${defaults.secretEnv} (source .data/dev.env after pnpm start)\n`);
  process.exit(2);
}
const source = values.source ?? defaults.source;
const type = values.type ?? defaults.type;
const timestamp = values.timestamp ? Number(values.timestamp) : Math.floor(Date.now() / 1000);
const hmac = (key, data) => createHmac('sha256', key).update(data);

/** @type {Record<string, string>} */
const headers = { 'Content-Type': 'application/json' };
let body;

switch (kind) {
  case 'stripe': {
    // https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "<t>.<body>", hex.
    const id = values.id ?? `evt_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    body = values.body ?? JSON.stringify({ id, object: 'event', type, created: timestamp, data: { object: { id: 'pi_123', object: 'payment_intent', amount: 2000 } } });
    headers['Stripe-Signature'] = `t=${timestamp},v1=${hmac(secret, `${timestamp}.${body}`).digest('hex')}`;
    break;
  }
  case 'github': {
    // https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries: "sha256=" + hex HMAC of the body.
    const [event, action] = type.split('.');
    body = values.body ?? JSON.stringify({ ...(action ? { action } : {}), issue: { number: 1, title: 'Test' }, repository: { full_name: 'octo/demo' } });
    headers['X-GitHub-Event'] = event;
    headers['X-GitHub-Delivery'] = values.id ?? randomUUID();
    headers['X-Hub-Signature-256'] = `sha256=${hmac(secret, body).digest('hex')}`;
    break;
  }
  case 'shopify': {
    // https://shopify.dev/docs/apps/build/webhooks/subscribe/https: base64 HMAC-SHA256 of the body.
    body = values.body ?? JSON.stringify({ id: 820982911946154500, email: 'jon@example.com', total_price: '10.00' });
    headers['X-Shopify-Topic'] = type;
    headers['X-Shopify-Webhook-Id'] = values.id ?? randomUUID();
    headers['X-Shopify-Hmac-Sha256'] = hmac(secret, body).digest('base64');
    break;
  }
  case 'standard': {
    // https://www.standardwebhooks.com: key = base64 after "whsec_"; HMAC-SHA256 of "<id>.<t>.<body>", "v1,<base64>".
    const id = values.id ?? `msg_${randomUUID().replace(/-/g, '')}`;
    body = values.body ?? JSON.stringify({ type, timestamp: new Date(timestamp * 1000).toISOString(), data: { id: 'inv_1', amount: 2000 } });
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    headers['webhook-id'] = id;
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = `v1,${hmac(key, `${id}.${timestamp}.${body}`).digest('base64')}`;
    break;
  }
}

const url = `${values.url.replace(/\/$/, '')}/hooks/${source}`;

if (values.send) {
  const res = await fetch(url, { method: 'POST', headers, body });
  process.stdout.write(`${res.status} ${await res.text()}\n`);
  process.exit(res.ok ? 0 : 1);
}

const quote = (/** @type {string} */ s) => `'${s.replaceAll("'", "'\\''")}'`;
const lines = [`curl -s -X POST ${quote(url)}`, ...Object.entries(headers).map(([k, v]) => `-H ${quote(`${k}: ${v}`)}`), `--data-binary ${quote(body)}`];
process.stdout.write(`${lines.join(' \\\n  ')}\n`);
