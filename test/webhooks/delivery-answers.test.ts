import type { Queue } from 'bullmq';
import request from 'supertest';
import type { EventDelivery } from '@broker/shared/webhooks/schema';
import type { Harness } from '../api/harness';
import type { StubServer } from '../helpers/stub-server';
import { post, REPLAYER_KEY, startDeliveryRig, type DeliveryRig } from './harness';
import { SECRETS, standardEvent } from './signers';

/**
 * What a trigger receiver's answer does to a delivery (docs/webhooks.md#trigger-delivery, "No write
 * applied twice"): every try carries `Idempotency-Key` = `webhook-id`; a 4xx
 * other than 408/429 is final; the first 500 bytes of a failing answer are
 * kept in the delivery's `lastError`, our secrets blanked. A real worker
 * delivers to a real stub; the delivery is read back through GET /v1/events.
 */
describe('trigger delivery: idempotency keys and the receiver answers', () => {
  let stub: StubServer;
  let h: Harness;
  let queue: Queue;
  let rig: DeliveryRig;

  beforeAll(async () => {
    rig = await startDeliveryRig('wh-answers');
    ({ stub, h, queue } = rig);
  });
  afterAll(() => rig.close());

  const settled = (id: string, count = 1) => rig.settled(id, count);

  const requestsFor = (marker: string) => stub.requests.filter((r) => r.body.includes(marker));
  /** Answers `first` to the first try of the delivery carrying `marker`, 200 after. */
  const firstThen200 = (marker: string, first: Parameters<StubServer['setHandler']>[0]) =>
    stub.setHandler((req, i) => (req.body.includes(marker) && requestsFor(marker).length === 1 ? first(req, i) : { status: 200 }));

  /** Sends a fresh standard event whose id is `marker`, and waits for its one delivery to settle. */
  async function deliver(marker: string): Promise<EventDelivery> {
    await post(h, 'acme', standardEvent({ id: marker })).expect(200);
    return (await settled(`acme:${marker}`)).deliveries[0]!;
  }

  async function expectFailedForGood(delivery: EventDelivery): Promise<void> {
    const job = await queue.getJob(delivery.deliveryId);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
  }

  it('500 then 200: both tries carry the same Idempotency-Key, equal to webhook-id', async () => {
    firstThen200('msg_idem_500', () => ({ status: 500 }));
    const delivery = await deliver('msg_idem_500');
    const tries = requestsFor('msg_idem_500');
    expect(tries).toHaveLength(2);
    expect(tries[0]!.headers['idempotency-key']).toBe(delivery.deliveryId);
    for (const t of tries) expect(t.headers['idempotency-key']).toBe(t.headers['webhook-id']);
    expect(tries[1]!.headers['idempotency-key']).toBe(tries[0]!.headers['idempotency-key']);
    expect(tries[1]!.at - tries[0]!.at).toBeLessThan(5000);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200 });
    expect(delivery.lastError).toBeUndefined();
  });

  it('a replay is a new delivery with a new webhook-id and a new Idempotency-Key', async () => {
    await deliver('msg_idem_replay');
    await request(h.server).post('/v1/events/acme:msg_idem_replay/replay').set('Authorization', `Bearer ${REPLAYER_KEY}`).expect(202);
    await settled('acme:msg_idem_replay', 2);
    const [first, replay] = requestsFor('msg_idem_replay');
    expect(replay!.headers['x-broker-replay']).toBe('true');
    expect(replay!.headers['idempotency-key']).toBe(replay!.headers['webhook-id']);
    expect(replay!.headers['idempotency-key']).not.toBe(first!.headers['idempotency-key']);
  });

  it('400 with a 2 KB body: tried once, failed for good, lastError holds exactly the first 500 bytes', async () => {
    const body = `${'a'.repeat(250)}${'b'.repeat(250)}${'C'.repeat(1548)}`;
    expect(Buffer.byteLength(body)).toBe(2048);
    stub.setHandler((req) => (req.body.includes('msg_bad_400') ? { status: 400, raw: body } : { status: 200 }));
    const delivery = await deliver('msg_bad_400');
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 400 });
    expect(delivery.lastError).toBe(`receiver answered 400: ${body.slice(0, 500)}`);
    expect(delivery.lastError).not.toContain('C');
    expect(requestsFor('msg_bad_400')).toHaveLength(1);
    await expectFailedForGood(delivery);
    const job = await queue.getJob(delivery.deliveryId);
    expect(job?.failedReason).toContain(body.slice(0, 500));
    expect(job?.failedReason).not.toContain('C');
  });

  it.each([401, 403, 404, 410, 422])('%i is final too: one try, failed', async (status) => {
    const marker = `msg_final_${status}`;
    stub.setHandler((req) => (req.body.includes(marker) ? { status, body: { error: `no ${status}` } } : { status: 200 }));
    const delivery = await deliver(marker);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatus: status, lastError: `receiver answered ${status}: {"error":"no ${status}"}` });
    expect(requestsFor(marker)).toHaveLength(1);
    await expectFailedForGood(delivery);
  });

  it.each([408, 429])('%i is retried with the same Idempotency-Key', async (status) => {
    const marker = `msg_retry_${status}`;
    firstThen200(marker, () => ({ status, raw: 'slow down' }));
    const delivery = await deliver(marker);
    const tries = requestsFor(marker);
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['idempotency-key']).toBe(tries[0]!.headers['idempotency-key']);
    expect(tries[1]!.at - tries[0]!.at).toBeLessThan(5000);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('an exhausted delivery keeps the last answer in lastError', async () => {
    stub.setHandler((req) => (req.body.includes('msg_down_503') ? { status: 503, raw: 'upstream maintenance' } : { status: 200 }));
    const delivery = await deliver('msg_down_503');
    expect(delivery).toMatchObject({ status: 'failed', attempts: 6, lastStatus: 503, lastError: 'receiver answered 503: upstream maintenance' });
    expect(requestsFor('msg_down_503')).toHaveLength(6);
  });

  it('cuts on a character boundary: never a half character, never over 500 bytes', async () => {
    // 'é' is 2 bytes: it takes bytes 499 and 500, so it falls outside the first 500.
    const body = `${'a'.repeat(499)}é${'z'.repeat(600)}`;
    stub.setHandler((req) => (req.body.includes('msg_utf8_cut') ? { status: 400, raw: body } : { status: 200 }));
    const delivery = await deliver('msg_utf8_cut');
    const excerpt = delivery.lastError!.slice('receiver answered 400: '.length);
    expect(excerpt).toBe('a'.repeat(499));
    expect(Buffer.byteLength(excerpt)).toBeLessThanOrEqual(500);
  });

  it('blanks our signing secret where the answer quotes it, even across the 500-byte cut', async () => {
    const keyPart = SECRETS.trigger.slice('whsec_'.length);
    const quoting = `expected ${SECRETS.trigger} or ${keyPart} or ${encodeURIComponent(SECRETS.trigger)}`;
    stub.setHandler((req) => {
      if (req.body.includes('msg_quotes_secret')) return { status: 401, raw: quoting };
      // The secret begins at byte 490 and runs past byte 500.
      if (req.body.includes('msg_secret_at_cut')) return { status: 400, raw: `${'x'.repeat(490)}${SECRETS.trigger}${'y'.repeat(100)}` };
      return { status: 200 };
    });
    const quoted = await deliver('msg_quotes_secret');
    expect(quoted.lastError).toBe('receiver answered 401: expected [redacted] or [redacted] or [redacted]');
    const atCut = await deliver('msg_secret_at_cut');
    expect(atCut.lastError).toBe(`receiver answered 400: ${'x'.repeat(490)}[redacted]`);
    for (const d of [quoted, atCut]) {
      expect(d.lastError).not.toContain(keyPart.slice(0, 8));
    }
  });
});
