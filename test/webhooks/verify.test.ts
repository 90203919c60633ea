import request from 'supertest';
import type { Harness } from '../api/harness';
import { post, startWebhookApi, storedEventCount } from './harness';
import { githubEvent, SECRETS, shopifyEvent, standardEvent, stripeEvent, type Signed } from './signers';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { redisKeys } from '@broker/redis/keys';

/** A signed request with its body changed after signing. */
const tampered = (s: Signed): Signed => ({ ...s, body: s.body.replace('}', ',"x":1}') });
const without = (s: Signed, header: string): Signed => {
  const headers = { ...s.headers };
  delete headers[header];
  return { ...s, headers };
};
const withHeader = (s: Signed, header: string, value: string): Signed => ({ ...s, headers: { ...s.headers, [header]: value } });

describe('POST /hooks/{source}: verification', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startWebhookApi('wh-verify');
  });
  afterAll(async () => {
    await h.close();
  });

  async function expectRejected(source: string, signed: Signed, status = 400, code = 'INVALID_SIGNATURE'): Promise<void> {
    const before = await storedEventCount(h);
    const res = await post(h, source, signed);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(code);
    expect(await storedEventCount(h)).toBe(before);
  }

  async function expectAccepted(source: string, signed: Signed, eventId: string): Promise<void> {
    const res = await post(h, source, signed);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, id: `${source}:${eventId}`, eventId, duplicate: false });
  }

  describe('stripe (stripe SDK: generateTestHeaderString / constructEvent)', () => {
    it('accepts a valid event; the id is stripe:<body id>', async () => {
      await expectAccepted('stripe', stripeEvent({ id: 'evt_valid_1' }), 'evt_valid_1');
    });
    it('refuses a tampered body, a wrong secret and a missing header', async () => {
      await expectRejected('stripe', tampered(stripeEvent()));
      await expectRejected('stripe', stripeEvent({ secret: 'whsec_wrong' }));
      await expectRejected('stripe', without(stripeEvent(), 'stripe-signature'));
    });
    it('refuses a timestamp older than 300 s or more than 300 s ahead', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRejected('stripe', stripeEvent({ timestamp: now - 301 }));
      await expectRejected('stripe', stripeEvent({ timestamp: now + 400 }));
      await expectAccepted('stripe', stripeEvent({ id: 'evt_recent', timestamp: now - 200 }), 'evt_recent');
    });
    it('accepts any of several comma-separated secrets (rotation)', async () => {
      h.env.STRIPE_WEBHOOK_SECRET = `${SECRETS.stripe},${SECRETS.stripeNew}`;
      try {
        await expectAccepted('stripe', stripeEvent({ id: 'evt_old_secret', secret: SECRETS.stripe }), 'evt_old_secret');
        await expectAccepted('stripe', stripeEvent({ id: 'evt_new_secret', secret: SECRETS.stripeNew }), 'evt_new_secret');
        await expectRejected('stripe', stripeEvent({ secret: 'whsec_neither' }));
      } finally {
        h.env.STRIPE_WEBHOOK_SECRET = SECRETS.stripe;
      }
    });
    it('answers 400, not 500, to a garbled or non-ASCII signature header', async () => {
      await expectRejected('stripe', withHeader(stripeEvent(), 'stripe-signature', 't=1,v1=abc'));
      await expectRejected('stripe', withHeader(stripeEvent(), 'stripe-signature', `t=${Math.floor(Date.now() / 1000)},v1=${'é'.repeat(64)}`));
    });
  });

  describe('github (X-Hub-Signature-256, HMAC computed here)', () => {
    it('accepts a valid delivery; the type is event.action', async () => {
      const signed = githubEvent({ delivery: 'd-gh-1', event: 'issues', action: 'opened' });
      await expectAccepted('github', signed, 'd-gh-1');
      const stored = await h.redis.hget(redisKeys(h.prefix).webhookEvent('github:d-gh-1'), 'type');
      expect(stored).toBe('issues.opened');
    });
    it('refuses a tampered body, a wrong secret, missing headers', async () => {
      await expectRejected('github', tampered(githubEvent()));
      await expectRejected('github', githubEvent({ secret: 'nope' }));
      await expectRejected('github', without(githubEvent(), 'x-hub-signature-256'));
    });
    it('answers 400 to a signature of the wrong length or format', async () => {
      await expectRejected('github', withHeader(githubEvent(), 'x-hub-signature-256', 'sha256=abcd'));
      await expectRejected('github', withHeader(githubEvent(), 'x-hub-signature-256', `sha1=${'0'.repeat(40)}`));
      await expectRejected('github', withHeader(githubEvent(), 'x-hub-signature-256', `sha256=${'0'.repeat(66)}`));
    });
    it('accepts either rotated secret', async () => {
      h.env.GITHUB_WEBHOOK_SECRET = `${SECRETS.githubNew}, ${SECRETS.github}`;
      try {
        await expectAccepted('github', githubEvent({ delivery: 'd-gh-rot-1' }), 'd-gh-rot-1');
        await expectAccepted('github', githubEvent({ delivery: 'd-gh-rot-2', secret: SECRETS.githubNew }), 'd-gh-rot-2');
      } finally {
        h.env.GITHUB_WEBHOOK_SECRET = SECRETS.github;
      }
    });
    it('a validly signed delivery without X-GitHub-Delivery is a 400 BAD_REQUEST and is not stored', async () => {
      await expectRejected('github', without(githubEvent(), 'x-github-delivery'), 400, 'BAD_REQUEST');
    });
  });

  describe('shopify (X-Shopify-Hmac-Sha256, HMAC computed here)', () => {
    it('accepts a valid webhook; falls back to X-Shopify-Event-Id', async () => {
      await expectAccepted('shopify', shopifyEvent({ webhookId: 'shop-1' }), 'shop-1');
      const noWebhookId = without(shopifyEvent(), 'x-shopify-webhook-id');
      await expectAccepted('shopify', withHeader(noWebhookId, 'x-shopify-event-id', 'shop-event-9'), 'shop-event-9');
    });
    it('refuses a tampered body, a wrong secret, a missing header, a wrong-length signature', async () => {
      await expectRejected('shopify', tampered(shopifyEvent()));
      await expectRejected('shopify', shopifyEvent({ secret: 'nope' }));
      await expectRejected('shopify', without(shopifyEvent(), 'x-shopify-hmac-sha256'));
      await expectRejected('shopify', withHeader(shopifyEvent(), 'x-shopify-hmac-sha256', 'c2hvcnQ='));
    });
    it('accepts either rotated secret', async () => {
      h.env.SHOPIFY_WEBHOOK_SECRET = `${SECRETS.shopify},${SECRETS.shopifyNew}`;
      try {
        await expectAccepted('shopify', shopifyEvent({ webhookId: 'shop-rot', secret: SECRETS.shopifyNew }), 'shop-rot');
      } finally {
        h.env.SHOPIFY_WEBHOOK_SECRET = SECRETS.shopify;
      }
    });
  });

  describe('standard (standardwebhooks sign / verify)', () => {
    it('accepts a valid message; id is acme:<webhook-id>, type from the body', async () => {
      await expectAccepted('acme', standardEvent({ id: 'msg_std_1', type: 'invoice.paid' }), 'msg_std_1');
      expect(await h.redis.hget(redisKeys(h.prefix).webhookEvent('acme:msg_std_1'), 'type')).toBe('invoice.paid');
    });
    it('refuses a tampered body, a wrong secret, each missing header', async () => {
      await expectRejected('acme', tampered(standardEvent()));
      await expectRejected('acme', standardEvent({ secrets: [SECRETS.standardNew] }));
      for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        await expectRejected('acme', without(standardEvent(), header));
      }
    });
    it('refuses stale (> 300 s) and future (> 300 s) timestamps', async () => {
      await expectRejected('acme', standardEvent({ at: new Date(Date.now() - 301_000) }));
      await expectRejected('acme', standardEvent({ at: new Date(Date.now() + 301_000) }));
    });
    it('accepts a header carrying several signatures, and rotated secrets', async () => {
      await expectAccepted('acme', standardEvent({ id: 'msg_multi', secrets: ['whsec_b3RoZXI=', SECRETS.standard] }), 'msg_multi');
      h.env.ACME_WEBHOOK_SECRET = `${SECRETS.standardNew},${SECRETS.standard}`;
      try {
        await expectAccepted('acme', standardEvent({ id: 'msg_rot_new', secrets: [SECRETS.standardNew] }), 'msg_rot_new');
        await expectAccepted('acme', standardEvent({ id: 'msg_rot_old' }), 'msg_rot_old');
      } finally {
        h.env.ACME_WEBHOOK_SECRET = SECRETS.standard;
      }
    });
    it('answers 400 to a signature of the wrong length', async () => {
      await expectRejected('acme', withHeader(standardEvent(), 'webhook-signature', 'v1,c2hvcnQ='));
    });
  });

  describe('limits and bad input', () => {
    it('unknown source: 404', async () => {
      const res = await post(h, 'nosuch', stripeEvent());
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    });
    it('a body over the default 1 MiB: 413 before verification', async () => {
      const big = stripeEvent({ body: JSON.stringify({ id: 'evt_big', type: 'x', pad: 'x'.repeat(1024 * 1024) }) });
      await expectRejected('stripe', big, 413, 'PAYLOAD_TOO_LARGE');
    });
    it("a body over the source's own maxBodyBytes: 413; under it: accepted", async () => {
      await expectRejected('small', githubEvent({ body: JSON.stringify({ pad: 'x'.repeat(300) }) }), 413, 'PAYLOAD_TOO_LARGE');
      await expectAccepted('small', githubEvent({ delivery: 'small-ok' }), 'small-ok');
    });
    it('GET /hooks/{source}: 405 with Allow: POST', async () => {
      const res = await request(h.server).get('/hooks/stripe');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
    });
  });

  describe('storage and dedupe', () => {
    it('stores the raw bytes, headers and timestamps before answering; a repeat is a duplicate', async () => {
      const signed = stripeEvent({ id: 'evt_store_1', body: '{"id":"evt_store_1",  "type":"payment_intent.succeeded","object":"event"}' });
      const first = await post(h, 'stripe', signed);
      expect(first.body.duplicate).toBe(false);
      const hash = await h.redis.hgetall(redisKeys(h.prefix).webhookEvent('stripe:evt_store_1'));
      expect(hash.body).toBe(signed.body); // byte for byte, spacing included
      expect(JSON.parse(hash.headers!)['stripe-signature']).toBe(signed.headers['stripe-signature']);
      expect(Date.parse(hash.receivedAt!)).toBeLessThanOrEqual(Date.parse(hash.verifiedAt!));
      const ttl = await h.redis.pttl(redisKeys(h.prefix).webhookDedupe('stripe', 'evt_store_1'));
      expect(ttl).toBeGreaterThan(6.9 * 24 * 3600 * 1000); // the default 7-day retention
      expect(await h.redis.pttl(redisKeys(h.prefix).webhookEvent('stripe:evt_store_1'))).toBeGreaterThan(6.9 * 24 * 3600 * 1000);

      const deliveryIds = Object.keys(hash)
        .filter((f) => f.endsWith(':trigger'))
        .map((f) => f.split(':')[1]);
      expect(deliveryIds).toHaveLength(1); // process_successful_payment
      expect(await h.redis.exists(`${bullPrefix(h.prefix, TRIGGERS_QUEUE)}:triggers:${deliveryIds[0]}`)).toBe(1);
      const jobsBefore = (await h.redis.keys(`${bullPrefix(h.prefix, TRIGGERS_QUEUE)}:triggers:dlv_*`)).sort();
      const again = await post(h, 'stripe', signed);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ received: true, id: 'stripe:evt_store_1', eventId: 'evt_store_1', duplicate: true });
      expect((await h.redis.keys(`${bullPrefix(h.prefix, TRIGGERS_QUEUE)}:triggers:dlv_*`)).sort()).toEqual(jobsBefore);
    });

    it('counts outcomes in broker_webhooks_received_total', async () => {
      const metric = async (outcome: string) =>
        (await h.api.metrics.webhooksReceived.get()).values.find((v) => v.labels.source === 'shopify' && v.labels.outcome === outcome)?.value ?? 0;
      const [accepted, duplicate, rejected] = [await metric('accepted'), await metric('duplicate'), await metric('rejected')];
      const signed = shopifyEvent();
      await post(h, 'shopify', signed).expect(200);
      await post(h, 'shopify', signed).expect(200);
      await post(h, 'shopify', tampered(signed)).expect(400);
      expect(await metric('accepted')).toBe(accepted + 1);
      expect(await metric('duplicate')).toBe(duplicate + 1);
      expect(await metric('rejected')).toBe(rejected + 1);
    });
  });
});
