import { Queue } from 'bullmq';
import request from 'supertest';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { redisKeys } from '@broker/redis/keys';
import { webhookBodyKey } from '@broker/redis/webhooks/event-store';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { EventDetail, TriggerJobData } from '@broker/shared/webhooks/schema';
import type { Harness } from '../api/harness';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { ADMIN_TOKEN, post, REPLAYER_KEY, startWebhookApi, startWorker, webhookConfig } from './harness';
import { githubEvent, shopifyEvent, standardEvent, type Signed } from './signers';
import { createHash } from 'node:crypto';

/*
 * docs/webhooks.md#source-types: GitHub and Shopify sign the body, not the delivery id header,
 * so a captured body resent under a new id is a duplicate too: answered with
 * the event already stored, nothing stored or queued for it.
 */

const withHeader = (s: Signed, header: string, value: string): Signed => ({ ...s, headers: { ...s.headers, [header]: value } });
const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');
const DAY_MS = 24 * 3600 * 1000;

describe('body dedupe for sources whose ids are not signed', () => {
  let stub: StubServer;
  let h: Harness;
  let config: BrokerConfig;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let queue: Queue<TriggerJobData>;

  beforeAll(async () => {
    stub = await StubServer.start();
    const base = webhookConfig(`${stub.url}/hooks/agent`);
    config = webhookConfig(`${stub.url}/hooks/agent`, {
      webhooks: { ...base.webhooks, ghbrief: { type: 'github', secret: 'GITHUB_WEBHOOK_SECRET', retentionDays: 1 / 86400 } },
      routes: [...base.routes, { source: 'ghbrief', event: '*', trigger: 'brief_any' }],
    });
    h = await startWebhookApi('wh-body-dedupe', { config });
    worker = await startWorker(config, h.prefix, h.env);
    queue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection: h.redis, prefix: bullPrefix(h.prefix, TRIGGERS_QUEUE) });
  });
  afterAll(async () => {
    await worker.close();
    await queue.close();
    await h.close();
    await stub.close();
  });

  const keys = () => redisKeys(h.prefix);
  const readEvent = (id: string) => request(h.server).get(`/v1/events/${id}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  /** Waits until the event has `count` deliveries, all delivered. */
  const delivered = (id: string, count = 1) =>
    waitFor(
      async () => {
        const event = (await readEvent(id).expect(200)).body as EventDetail;
        return event.deliveries.length === count && event.deliveries.every((d) => d.status === 'delivered') ? event : undefined;
      },
      { timeoutMs: 10_000, what: `${count} delivered deliveries of ${id}` },
    );
  /** Trigger jobs ever queued for a stored event id (completed ones are kept for an hour). */
  const jobsFor = async (id: string) => (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).filter((j) => j.data.eventId === id);
  const receivedWith = (marker: string) => stub.requests.filter((r) => r.body.includes(marker));

  async function expectResentIsDuplicate(source: string, first: Signed, idHeader: string, firstId: string, resentId: string): Promise<void> {
    const marker = JSON.parse(first.body).test_nonce as string;
    expect((await post(h, source, first).expect(200)).body).toEqual({ received: true, id: `${source}:${firstId}`, eventId: firstId, duplicate: false });

    // The same signed body under a new id: the answer names the event already stored.
    const resent = withHeader(first, idHeader, resentId);
    for (let i = 0; i < 2; i++) {
      expect((await post(h, source, resent).expect(200)).body).toEqual({ received: true, id: `${source}:${firstId}`, eventId: firstId, duplicate: true });
    }
    // The original id again: the ordinary dedupe.
    expect((await post(h, source, first).expect(200)).body).toEqual({ received: true, id: `${source}:${firstId}`, eventId: firstId, duplicate: true });

    await delivered(`${source}:${firstId}`);
    expect(receivedWith(marker)).toHaveLength(1);
    expect(await jobsFor(`${source}:${firstId}`)).toHaveLength(1);
    expect(await jobsFor(`${source}:${resentId}`)).toHaveLength(0);
    // Nothing of the resend is stored, not even a claim on its id.
    await readEvent(`${source}:${resentId}`).expect(404);
    expect(await h.redis.exists(keys().webhookDedupe(source, resentId), keys().webhookEvent(`${source}:${resentId}`))).toBe(0);
  }

  it('github: a signed body resent with a new X-GitHub-Delivery is a duplicate of the stored event, with no second trigger', async () => {
    await expectResentIsDuplicate('github', githubEvent({ delivery: 'gh-orig' }), 'x-github-delivery', 'gh-orig', 'gh-resent');
  });

  it('shopify: a signed body resent with a new X-Shopify-Webhook-Id is a duplicate of the stored event, with no second trigger', async () => {
    await expectResentIsDuplicate('shopify', shopifyEvent({ webhookId: 'shop-orig' }), 'x-shopify-webhook-id', 'shop-orig', 'shop-resent');
  });

  it('a different body under the same scheme is a new event, even one byte apart', async () => {
    const body = JSON.stringify({ action: 'closed', issue: { number: 9 }, repository: { full_name: 'octo/demo' } });
    const answers = [];
    for (const [delivery, b] of [
      ['gh-diff-1', body],
      ['gh-diff-2', `${body}\n`],
      ['gh-diff-3', body.replace('closed', 'opened')],
    ] as const) {
      answers.push((await post(h, 'github', githubEvent({ delivery, body: b })).expect(200)).body);
    }
    expect(answers).toEqual(['gh-diff-1', 'gh-diff-2', 'gh-diff-3'].map((eventId) => ({ received: true, id: `github:${eventId}`, eventId, duplicate: false })));
    for (const eventId of ['gh-diff-1', 'gh-diff-2', 'gh-diff-3']) await delivered(`github:${eventId}`);
  });

  it('20 concurrent posts of one body under 20 delivery ids: one event, one trigger, every answer names it', async () => {
    const signed = githubEvent({ delivery: 'unused' });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(h, 'github', withHeader(signed, 'x-github-delivery', `gh-burst-${i}`))));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const fresh = answers.filter((a) => a.body.duplicate === false);
    expect(fresh).toHaveLength(1);
    const { id, eventId } = fresh[0]!.body as { id: string; eventId: string };
    expect(answers.map((a) => [a.body.id, a.body.eventId])).toEqual(answers.map(() => [id, eventId]));
    await delivered(id);
    expect(receivedWith(JSON.parse(signed.body).test_nonce as string)).toHaveLength(1);
    const stored = await Promise.all(answers.map((_, i) => h.redis.exists(keys().webhookEvent(`github:gh-burst-${i}`))));
    expect(stored.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('the body claim: its SHA-256 in the source slot, naming the stored event, kept for the retention', async () => {
    const signed = githubEvent({ delivery: 'gh-claim' });
    await post(h, 'github', signed).expect(200);
    const key = webhookBodyKey(keys(), 'github', sha256(signed.body));
    expect(key).toBe(`${h.prefix}:evt-body:{src:github}:${sha256(signed.body)}`);
    expect(keys().webhookDedupe('github', 'gh-claim')).toContain('{src:github}');
    expect(await h.redis.get(key)).toBe('github:gh-claim');
    const [bodyTtl, eventTtl] = await Promise.all([h.redis.pttl(key), h.redis.pttl(keys().webhookEvent('github:gh-claim'))]);
    expect(bodyTtl).toBeGreaterThan(6.9 * DAY_MS); // the default 7-day retention, as the event's
    expect(bodyTtl).toBeLessThanOrEqual(7 * DAY_MS);
    expect(Math.abs(bodyTtl - eventTtl)).toBeLessThan(1000);
    // Small: a hex digest and an event id, no more than an event id's own dedupe claim and a digest's worth of key.
    const [bodyBytes, idBytes] = await Promise.all([h.redis.memory('USAGE', key), h.redis.memory('USAGE', keys().webhookDedupe('github', 'gh-claim'))]);
    expect(Number(bodyBytes)).toBeLessThanOrEqual(Number(idBytes) + 64);
    await delivered('github:gh-claim');
  });

  it('stripe and standard ids are signed: the same body under another id is a new event, and no body is claimed', async () => {
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_same' } });
    expect((await post(h, 'acme', standardEvent({ id: 'msg_same_body_1', body })).expect(200)).body.duplicate).toBe(false);
    expect((await post(h, 'acme', standardEvent({ id: 'msg_same_body_2', body })).expect(200)).body.duplicate).toBe(false);
    expect(await h.redis.keys(`${h.prefix}:evt-body:{src:acme}:*`)).toEqual([]);
    expect(await h.redis.keys(`${h.prefix}:evt-body:{src:stripe}:*`)).toEqual([]);
    await delivered('acme:msg_same_body_1');
    await delivered('acme:msg_same_body_2');
  });

  it('replay still delivers the stored event, and a resend after it is still a duplicate', async () => {
    const signed = githubEvent({ delivery: 'gh-replay-orig' });
    const marker = JSON.parse(signed.body).test_nonce as string;
    await post(h, 'github', signed).expect(200);
    await delivered('github:gh-replay-orig');

    const replay = await request(h.server).post('/v1/events/github:gh-replay-orig/replay').set('Authorization', `Bearer ${REPLAYER_KEY}`).expect(202);
    expect(replay.body.deliveries).toEqual([expect.objectContaining({ trigger: 'github_activity', replay: true })]);
    await delivered('github:gh-replay-orig', 2);
    const tries = receivedWith(marker);
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['x-broker-replay']).toBe('true');

    const resent = await post(h, 'github', withHeader(signed, 'x-github-delivery', 'gh-replay-resent')).expect(200);
    expect(resent.body).toEqual({ received: true, id: 'github:gh-replay-orig', eventId: 'gh-replay-orig', duplicate: true });
    expect(await jobsFor('github:gh-replay-orig')).toHaveLength(2);
  });

  it('after the retention the body is a new event again', async () => {
    const signed = githubEvent({ delivery: 'ghb-1' });
    expect((await post(h, 'ghbrief', signed).expect(200)).body.duplicate).toBe(false);
    expect((await post(h, 'ghbrief', withHeader(signed, 'x-github-delivery', 'ghb-2')).expect(200)).body).toMatchObject({ id: 'ghbrief:ghb-1', duplicate: true });
    await delivered('ghbrief:ghb-1');
    const key = webhookBodyKey(keys(), 'ghbrief', sha256(signed.body));
    await waitFor(async () => (await h.redis.exists(key)) === 0, { timeoutMs: 5000, what: 'the body claim to expire' });
    expect((await post(h, 'ghbrief', withHeader(signed, 'x-github-delivery', 'ghb-3')).expect(200)).body).toEqual({
      received: true,
      id: 'ghbrief:ghb-3',
      eventId: 'ghb-3',
      duplicate: false,
    });
    await delivered('ghbrief:ghb-3');
    expect(receivedWith(JSON.parse(signed.body).test_nonce as string)).toHaveLength(2);
  });
});
