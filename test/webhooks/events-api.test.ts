import request from 'supertest';
import type { Harness } from '../api/harness';
import { waitFor } from '../helpers/wait-for';
import { ADMIN_TOKEN, post, READER_KEY, startWebhookApi, storedEventCount } from './harness';
import { githubEvent, shopifyEvent, standardEvent, stripeEvent } from './signers';
import { redisKeys } from '@broker/redis/keys';

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

describe('events API', () => {
  let h: Harness;
  const accepted: string[] = [];
  let middle = '';

  beforeAll(async () => {
    h = await startWebhookApi('wh-events');
    // Nine events, oldest first, across sources and types.
    const posts = [
      () => post(h, 'stripe', stripeEvent({ id: 'evt_a1', type: 'customer.created' })),
      () => post(h, 'stripe', stripeEvent({ id: 'evt_a2', type: 'payment_intent.succeeded' })),
      () => post(h, 'github', githubEvent({ delivery: 'gh-a3', event: 'push', body: '{"ref":"main"}' })),
      () => post(h, 'stripe', stripeEvent({ id: 'evt_a4', type: 'customer.updated' })),
      () => post(h, 'shopify', shopifyEvent({ webhookId: 'shop-a5' })),
      () => post(h, 'acme', standardEvent({ id: 'msg_a6' })),
      () => post(h, 'stripe', stripeEvent({ id: 'evt_a7', type: 'customer.created' })),
      () => post(h, 'github', githubEvent({ delivery: 'gh-a8' })),
      () => post(h, 'stripe', stripeEvent({ id: 'evt_a9', type: 'customer.created' })),
    ];
    for (const [i, send] of posts.entries()) {
      const res = await send();
      expect(res.status).toBe(200);
      accepted.push(res.body.id);
      if (i === 4) middle = new Date().toISOString();
      // Distinct receivedAt milliseconds, so the order is the posting order.
      const at = Date.now();
      await waitFor(() => Date.now() > at, { intervalMs: 1 });
    }
  });
  afterAll(async () => {
    await h.close();
  });

  const list = (query: string, auth: Record<string, string> = admin) => request(h.server).get(`/v1/events${query}`).set(auth);

  it('lists newest first, with the summary fields', async () => {
    const res = await list('').expect(200);
    expect(res.body.events.map((e: { id: string }) => e.id)).toEqual([...accepted].reverse());
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.events[0]).toEqual({
      id: 'stripe:evt_a9',
      source: 'stripe',
      eventId: 'evt_a9',
      type: 'customer.created',
      receivedAt: expect.any(String),
      verifiedAt: expect.any(String),
    });
  });

  it('pages with a cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await list(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).expect(200);
      expect(res.body.events.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.events.map((e: { id: string }) => e.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(5);
    expect(seen).toEqual([...accepted].reverse());
  });

  it('filters by source, type and both', async () => {
    const ids = async (q: string) => (await list(q).expect(200)).body.events.map((e: { id: string }) => e.id);
    expect(await ids('?source=github')).toEqual(['github:gh-a8', 'github:gh-a3']);
    expect(await ids('?type=customer.created')).toEqual(['stripe:evt_a9', 'stripe:evt_a7', 'stripe:evt_a1']);
    expect(await ids('?source=stripe&type=customer.updated')).toEqual(['stripe:evt_a4']);
    expect(await ids('?source=shopify&type=customer.created')).toEqual([]);
  });

  it('filters by time range (since inclusive, until exclusive)', async () => {
    const ids = async (q: string) => (await list(q).expect(200)).body.events.map((e: { id: string }) => e.id);
    expect(await ids(`?since=${encodeURIComponent(middle)}`)).toEqual(accepted.slice(5).reverse());
    expect(await ids(`?until=${encodeURIComponent(middle)}`)).toEqual(accepted.slice(0, 5).reverse());
    expect(await ids(`?since=${encodeURIComponent(middle)}&source=stripe&limit=1`)).toEqual(['stripe:evt_a9']);
  });

  it('rejects bad query parameters with 422 and a pointer', async () => {
    for (const q of ['?limit=0', '?limit=101', '?limit=x', '?since=yesterday', '?cursor=not-a-cursor']) {
      const res = await list(q);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('VALIDATION_ERROR');
      expect(res.body.errors[0].pointer).toMatch(/^\/(limit|since|cursor)$/);
    }
    // A misspelled filter would otherwise list every source's events.
    const misspelled = await list('?sources=stripe');
    expect(misspelled.status).toBe(422);
    expect(misspelled.body.errors).toEqual([{ pointer: '/sources', message: 'is not a known parameter' }]);
  });

  it('GET /v1/events/{id}: raw body, headers, timestamps, deliveries', async () => {
    const res = await request(h.server).get('/v1/events/github:gh-a3').set(admin).expect(200);
    expect(res.body).toMatchObject({
      id: 'github:gh-a3',
      source: 'github',
      eventId: 'gh-a3',
      type: 'push',
      body: '{"ref":"main"}',
      bodyEncoding: 'utf8',
      receivedAt: expect.any(String),
      verifiedAt: expect.any(String),
    });
    expect(res.body.headers['x-github-delivery']).toBe('gh-a3');
    expect(res.body.headers.authorization).toBeUndefined();
    expect(res.body.deliveries).toHaveLength(1);
    // No worker runs in this file: the delivery waits in the queue.
    expect(res.body.deliveries[0]).toMatchObject({ trigger: 'github_activity', status: 'queued', attempts: 0, replay: false });
  });

  it('a body that is not UTF-8 is kept byte for byte, as base64', async () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const { createHmac } = await import('node:crypto');
    const res = await request(h.server)
      .post('/hooks/github')
      .set('x-github-event', 'binary')
      .set('x-github-delivery', 'gh-binary')
      .set('x-hub-signature-256', `sha256=${createHmac('sha256', h.env.GITHUB_WEBHOOK_SECRET!).update(raw).digest('hex')}`)
      .set('content-type', 'application/octet-stream')
      .send(raw);
    expect(res.status).toBe(200);
    const event = await request(h.server).get('/v1/events/github:gh-binary').set(admin).expect(200);
    expect(event.body.bodyEncoding).toBe('base64');
    expect(Buffer.from(event.body.body, 'base64').equals(raw)).toBe(true);
  });

  it('unknown or malformed ids are 404', async () => {
    await request(h.server).get('/v1/events/stripe:evt_missing').set(admin).expect(404);
    await request(h.server).get('/v1/events/no-colon').set(admin).expect(404);
  });

  it('needs events:read or the admin token', async () => {
    await list('', {}).expect(401);
    await list('', { Authorization: 'Bearer wrong' }).expect(401);
    await list('', { Authorization: 'Bearer key-agent-a' }).expect(403); // agent-a has no events scope
    await list('', { Authorization: `Bearer ${READER_KEY}` }).expect(200);
    await request(h.server).get('/v1/events/github:gh-a3').set('Authorization', 'Bearer key-agent-a').expect(403);
    await request(h.server).get('/v1/events/github:gh-a3').set('Authorization', `Bearer ${READER_KEY}`).expect(200);
  });

  it('skips events whose hash expired', async () => {
    await h.redis.del(redisKeys(h.prefix).webhookEvent('stripe:evt_a7'));
    const res = await list('?type=customer.created').expect(200);
    expect(res.body.events.map((e: { id: string }) => e.id)).toEqual(['stripe:evt_a9', 'stripe:evt_a1']);
    expect(await storedEventCount(h)).toBe(9); // 9 posted + 1 binary - 1 deleted
  });
});

describe('webhooks while Redis is down', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startWebhookApi('wh-redis-down', { producerUrl: 'redis://127.0.0.1:1', subscriberUrl: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('a valid event is answered 503 with Retry-After within 2 s, so the provider retries', async () => {
    const started = Date.now();
    const res = await post(h, 'stripe', stripeEvent());
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('UNAVAILABLE');
    expect(res.headers['retry-after']).toBeDefined();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a bad signature is still a 400 (checked before Redis)', async () => {
    const res = await post(h, 'stripe', stripeEvent({ secret: 'whsec_other' }));
    expect(res.status).toBe(400);
  });

  it('the events API answers 503', async () => {
    await request(h.server).get('/v1/events').set(admin).expect(503);
    await request(h.server).get('/v1/events/stripe:evt_x').set(admin).expect(503);
  });
});
