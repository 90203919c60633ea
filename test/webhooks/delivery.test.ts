import type { Queue } from 'bullmq';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { EventStore } from '@broker/redis/webhooks/event-store';
import { redisKeys } from '@broker/redis/keys';
import type { Harness } from '../api/harness';
import type { StubRequest, StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { ADMIN_TOKEN, post, REPLAYER_KEY, startDeliveryRig, type DeliveryRig } from './harness';
import { githubEvent, SECRETS, standardEvent, stripeEvent } from './signers';

describe('trigger delivery (worker)', () => {
  let stub: StubServer;
  let h: Harness;
  let worker: DeliveryRig['worker'];
  let queue: Queue;
  let rig: DeliveryRig;

  beforeAll(async () => {
    rig = await startDeliveryRig('wh-delivery');
    ({ stub, h, worker, queue } = rig);
  });
  afterAll(() => rig.close());
  beforeEach(() => stub.setHandler(() => ({ status: 200, body: { ok: true } })));

  const settled = (id: string, count = 1) => rig.settled(id, count);

  const requestsFor = (eventId: string) => stub.requests.filter((r) => r.body.includes(eventId));

  it('50 concurrent posts of one new event id: one acceptance, exactly one delivery', async () => {
    const signed = stripeEvent({ id: 'evt_concurrent' });
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(h, 'stripe', signed)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);

    const event = await settled('stripe:evt_concurrent');
    expect(event.deliveries).toHaveLength(1);
    expect(event.deliveries[0]).toMatchObject({ trigger: 'process_successful_payment', status: 'delivered', attempts: 1 });
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    expect(requestsFor('evt_concurrent')).toHaveLength(1);
  });

  it('a delivered delivery whose job runs again (re-added by the outbox sweeper after BullMQ trimmed it) is not sent twice', async () => {
    await post(h, 'stripe', stripeEvent({ id: 'evt_rerun_delivered' })).expect(200);
    const event = await settled('stripe:evt_rerun_delivered');
    expect(requestsFor('evt_rerun_delivered')).toHaveLength(1);
    const delivery = event.deliveries[0]!;
    // What the sweeper does when getJobState says "unknown": completed jobs are kept only up to a count.
    const job = await queue.getJob(delivery.deliveryId);
    await job!.remove();
    const data = { deliveryId: delivery.deliveryId, eventId: 'stripe:evt_rerun_delivered', source: 'stripe', trigger: delivery.trigger, replay: false };
    await queue.add(delivery.trigger, data, { jobId: delivery.deliveryId });
    await waitFor(async () => (await queue.getJobState(delivery.deliveryId)) === 'completed', { what: 'the re-added job to complete' });

    expect(requestsFor('evt_rerun_delivered')).toHaveLength(1);
    expect((await rig.readEvent('stripe:evt_rerun_delivered')).deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200 });
  });

  it('the delivery is a POST signed with Standard Webhooks headers that the standardwebhooks library verifies', async () => {
    const signed = stripeEvent({ id: 'evt_signed_delivery' });
    await post(h, 'stripe', signed).expect(200);
    await settled('stripe:evt_signed_delivery');
    const [req] = requestsFor('evt_signed_delivery') as [StubRequest];
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hooks/agent');
    const body = new Webhook(SECRETS.trigger).verify(req.body, req.headers as Record<string, string>) as Record<string, unknown>;
    expect(body).toEqual({
      trigger: 'process_successful_payment',
      source: 'stripe',
      eventId: 'evt_signed_delivery',
      type: 'payment_intent.succeeded',
      payload: JSON.parse(signed.body),
      receivedAt: expect.any(String),
    });
    expect(() => new Webhook(SECRETS.standard).verify(req.body, req.headers as Record<string, string>)).toThrow();
    expect(req.headers['webhook-id']).toMatch(/^dlv_[0-9a-f]{32}$/);
  });

  it('a receiver answering 500 then 200 gets the same webhook-id twice; the delivery ends delivered', async () => {
    stub.setHandler((r) => ({ status: requestsFor('evt_retry_once').length === 1 && r.body.includes('evt_retry_once') ? 500 : 200 }));
    await post(h, 'stripe', stripeEvent({ id: 'evt_retry_once' })).expect(200);
    const event = await settled('stripe:evt_retry_once');
    const tries = requestsFor('evt_retry_once');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['webhook-id']).toBe(tries[0]!.headers['webhook-id']);
    // The first retry comes within 5 s (docs/webhooks.md#trigger-delivery: 0.5–1 s by default).
    expect(tries[1]!.at - tries[0]!.at).toBeLessThan(5000);
    expect(event.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200 });
    expect(event.deliveries[0]!.lastError).toBeUndefined();
    const job = await queue.getJob(tries[0]!.headers['webhook-id'] as string);
    expect(await job?.getState()).toBe('completed');
  });

  it('a receiver that does not answer within timeoutMs is retried with the same webhook-id', async () => {
    stub.setHandler((r) => (r.body.includes('gh-slow') && requestsFor('gh-slow').length === 1 ? { hang: true } : { status: 200 }));
    await post(h, 'github', githubEvent({ delivery: 'gh-slow' })).expect(200);
    const event = await settled('github:gh-slow');
    const tries = requestsFor('gh-slow');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['webhook-id']).toBe(tries[0]!.headers['webhook-id']);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(2000); // triggerDelivery.timeoutMs in the test config
    expect(event.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('410 Gone stops at once: one try, the delivery failed', async () => {
    stub.setHandler(() => ({ status: 410 }));
    await post(h, 'github', githubEvent({ delivery: 'gh-gone' })).expect(200);
    const event = await settled('github:gh-gone');
    expect(event.deliveries[0]).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 410 });
    expect(requestsFor('gh-gone')).toHaveLength(1);
    const job = await queue.getJob(event.deliveries[0]!.deliveryId);
    expect(await job?.getState()).toBe('failed');
  });

  it('429 with Retry-After: the next try waits at least that long', async () => {
    stub.setHandler((r) => (r.body.includes('gh-throttled') && requestsFor('gh-throttled').length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    await post(h, 'github', githubEvent({ delivery: 'gh-throttled' })).expect(200);
    const event = await settled('github:gh-throttled');
    const tries = requestsFor('gh-throttled');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(950);
    expect(event.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 204 });
  });

  it('exhausted retries: every try has the same webhook-id, the job stays failed, the event says failed', async () => {
    stub.setHandler(() => ({ status: 503 }));
    await post(h, 'acme', standardEvent({ id: 'msg_always_down' })).expect(200);
    const event = await settled('acme:msg_always_down');
    const tries = requestsFor('msg_always_down');
    expect(tries).toHaveLength(6); // retry.attempts in the test config
    expect(new Set(tries.map((t) => t.headers['webhook-id'])).size).toBe(1);
    expect(event.deliveries[0]).toMatchObject({ status: 'failed', attempts: 6, lastStatus: 503, lastError: 'receiver answered 503' });
    const failed = await queue.getFailed();
    expect(failed.map((j) => j.id)).toContain(event.deliveries[0]!.deliveryId);
    const metric = (await worker.app.metrics.triggerDeliveries.get()).values.find((v) => v.labels.trigger === 'acme_any' && v.labels.outcome === 'failed');
    expect(metric?.value).toBeGreaterThanOrEqual(1);
  });

  it('replay: a new delivery with a new webhook-id, marked as a replay, for an event too old to verify again', async () => {
    // Signed 299 s ago: a replay must not depend on the signature's age.
    const signed = stripeEvent({ id: 'evt_replayed', timestamp: Math.floor(Date.now() / 1000) - 299 });
    await post(h, 'stripe', signed).expect(200);
    await settled('stripe:evt_replayed');

    const replay = await request(h.server).post('/v1/events/stripe:evt_replayed/replay').set('Authorization', `Bearer ${REPLAYER_KEY}`);
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe('stripe:evt_replayed');
    expect(replay.body.deliveries).toHaveLength(1);
    expect(replay.body.deliveries[0]).toMatchObject({ trigger: 'process_successful_payment', replay: true });

    const event = await settled('stripe:evt_replayed', 2);
    expect(event.deliveries.map((d) => d.replay).sort()).toEqual([false, true]);
    const tries = requestsFor('evt_replayed');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['webhook-id']).not.toBe(tries[0]!.headers['webhook-id']);
    expect(tries[1]!.headers['webhook-id']).toBe(replay.body.deliveries[0].deliveryId);
    expect(tries[1]!.headers['x-broker-replay']).toBe('true');
    expect(new Webhook(SECRETS.trigger).verify(tries[1]!.body, tries[1]!.headers as Record<string, string>)).toMatchObject({ eventId: 'evt_replayed' });
  });

  it('replay needs events:replay or the admin token; an unknown event is 404', async () => {
    const res = await request(h.server).post('/v1/events/stripe:evt_replayed/replay').set('Authorization', 'Bearer key-agent-b-old');
    expect(res.status).toBe(403);
    await request(h.server).post('/v1/events/stripe:evt_nope/replay').set('Authorization', `Bearer ${ADMIN_TOKEN}`).expect(404);
    await request(h.server).post('/v1/events/stripe:evt_replayed/replay').expect(401);
  });

  it('an event past its retention is accepted again and triggers again', async () => {
    const signed = standardEvent({ id: 'msg_brief' });
    expect((await post(h, 'brief', signed).expect(200)).body.duplicate).toBe(false);
    expect((await post(h, 'brief', signed).expect(200)).body.duplicate).toBe(true);
    await settled('brief:msg_brief');
    await waitFor(async () => (await h.redis.exists(redisKeys(h.prefix).webhookDedupe('brief', 'msg_brief'))) === 0, { timeoutMs: 5000, what: 'retention to expire' });
    // A fresh signature: the provider's next retry.
    expect((await post(h, 'brief', standardEvent({ id: 'msg_brief' })).expect(200)).body.duplicate).toBe(false);
    await waitFor(() => requestsFor('msg_brief').length === 2, { what: 'the second delivery' });
    const ids = requestsFor('msg_brief').map((r) => r.headers['webhook-id']);
    expect(ids[1]).not.toBe(ids[0]);
  });

  it('a delivery whose request died before enqueueing it is enqueued by the outbox sweeper', async () => {
    const store = new EventStore(h.redis, redisKeys(h.prefix));
    const receivedAt = new Date();
    const created = await store.ingest(
      {
        id: 'github:gh-orphan',
        source: 'github',
        eventId: 'gh-orphan',
        type: 'push',
        receivedAt,
        verifiedAt: receivedAt,
        headers: {},
        body: Buffer.from('{"ref":"refs/heads/main","marker":"gh-orphan"}'),
      },
      [{ deliveryId: 'dlv_0123456789abcdef0123456789abcdef', trigger: 'github_activity', replay: false, createdAt: receivedAt.toISOString() }],
      { retentionMs: 60_000, outboxAt: Date.now() },
    );
    expect(created).toEqual({ duplicate: false, correlationPaths: [] });
    const event = await settled('github:gh-orphan');
    expect(event.deliveries[0]).toMatchObject({ deliveryId: 'dlv_0123456789abcdef0123456789abcdef', status: 'delivered' });
    expect(requestsFor('gh-orphan')).toHaveLength(1);
    expect(await h.redis.zcard(redisKeys(h.prefix).webhookOutbox('github'))).toBe(0);
  });
});
