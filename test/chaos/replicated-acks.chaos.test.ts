import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import request from 'supertest';
import { redisKeys } from '@broker/redis/keys';
import { parseConfig } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { bullPrefix, CALLBACKS_QUEUE, integrationQueueName } from '@broker/shared/queues';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { StubReply } from '../helpers/stub-server';
import { testLogger } from '../helpers/broker';
import { layeredConfig } from '../helpers/config';
import { waitFor } from '../helpers/wait-for';
import { isBullMqAdd, StallingRedisProxy } from '../api/stalling-redis-proxy';
import { listenApi, type ListeningApi } from '../api/harness';
import { BrokerClient, chaosConfig, Deployment, SECRETS, TriggerReceiver, type ChaosConfigOptions } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * `durability: "replicated"` for every acknowledgement, not only the first
 * write of a job or an event: a private primary and its replica, the api
 * in-process from its sources (several, as behind a load balancer), the
 * built worker, and the replica frozen (SIGSTOP) while a request is answered.
 *
 * - A duplicate webhook or a replayed Idempotency-Key writes nothing, and a
 *   fresh connection's `WAIT` confirms nothing it wrote: it must not answer
 *   200 for an original that no replica has (the first answer was a 503).
 *   Redis 7.2 and later count only a connection's writes for `WAIT`; 7.0
 *   counted its every command (reads too), and there these two pass anyway.
 * - A cancel, retry, replay or decision is a write the client acts on: 503
 *   while no replica has it.
 * - A job without an Idempotency-Key that no replica confirmed is withdrawn
 *   before its 503 (the agent's resubmission would be a second job), unless a
 *   worker has it already: then 202, and it runs once.
 * - A reconnect while the `WAIT` is in flight (ioredis resends it, after a
 *   failover to the promoted replica) is no confirmation.
 * - An approved job whose promotion Redis did not answer is promoted in the
 *   background, not left delayed until its hold ends.
 * - A cancelled job keeps its BullMQ job until its callback is queued: the
 *   worker that takes a cancelled job queues the callback again.
 */
const PREFIX = 'chaos';
const AGENT = { Authorization: `Bearer ${SECRETS.AGENT_KEY}` };
const ADMIN = { Authorization: `Bearer ${SECRETS.BROKER_ADMIN_TOKEN}` };
const SHOP = integrationQueueName('shop');

let primary: PrivateRedis;
let replica: PrivateRedis;
let upstream: OrderUpstream;
/** While set, the upstream answers this and applies nothing. */
let upstreamDown: StubReply | undefined;
let receiver: TriggerReceiver;
let deployment: Deployment;
let config: BrokerConfig;
let shopQueue: Queue;
/** Two apis, as behind a load balancer: `b`'s connection wrote nothing `a` writes. */
let a: InProcessApi;
let b: InProcessApi;
/** An api whose producer connection goes through a proxy that can hold answers and cut the connection. */
let c: InProcessApi;
let proxy: StallingRedisProxy;

type InProcessApi = ListeningApi & { client: BrokerClient };

async function startApi(producerUrl: string): Promise<InProcessApi> {
  const listening = await listenApi(
    {
      config,
      secrets: envSecretsProvider({ ...SECRETS, CALLBACK_SECRET: 'whsec_Y2hhb3MtY2FsbGJhY2stc2VjcmV0LTAxMjM=' }),
      logger: testLogger('api'),
      prefix: PREFIX,
    },
    { producerUrl, subscriberUrl: primary.url },
  );
  return { ...listening, client: new BrokerClient(listening.base) };
}

/** The primary's replication stream has reached the replica: a write of this connection, then `WAIT` for it. */
async function replicaInSync(): Promise<void> {
  const admin = primary.client();
  await admin.set(`${PREFIX}:test-sync`, '1');
  expect(await admin.wait(1, 10_000)).toBe(1);
}

/** Runs `act` with the only replica frozen, so no `WAIT` can be confirmed; thaws and resyncs after. */
async function replicaStopped<T>(act: () => Promise<T>): Promise<T> {
  replica.freeze();
  try {
    return await act();
  } finally {
    replica.thaw();
    await replicaInSync();
  }
}

function expectUnconfirmed(res: { status: number; body: unknown; headers: Record<string, string> | Headers | undefined }): void {
  expect(res).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
  const retryAfter = res.headers instanceof Headers ? res.headers.get('retry-after') : res.headers?.['retry-after'];
  expect(retryAfter).toBe('1');
}

const submit = (api: InProcessApi, body: object, key?: string) => {
  const req = request(api.server).post('/v1/jobs').set(AGENT);
  return (key ? req.set('Idempotency-Key', key) : req).send(body);
};
const order = (sku: string) => ({ tool: 'shop.createOrder', input: { sku } });
const note = (text: string) => ({ tool: 'shop.createNote', input: { text } });

/** The BullMQ job of the shop order with this sku (answers 503 carry no job id). */
async function shopJobOf(sku: string): Promise<string> {
  const jobs = await shopQueue.getJobs(['wait', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  const job = jobs.find((j) => (j.data as { input?: { sku?: string } }).input?.sku === sku);
  if (!job?.id) throw new Error(`no job for sku ${sku}`);
  return job.id;
}

const statusOf = (id: string) => primary.client().hget(redisKeys(PREFIX).job(id), 'status');

function until(id: string, status: string): Promise<true> {
  return waitFor(async () => (await statusOf(id)) === status, { timeoutMs: 15_000, what: `job ${id} ${status}` });
}

beforeAll(async () => {
  primary = await PrivateRedis.start();
  replica = await PrivateRedis.start({ replicaOf: primary.port });
  // Online, not just connected: the first full sync starts after repl-diskless-sync-delay (5 s by default).
  await waitFor(async () => /slave0:.*state=online/.test(await primary.client().info('replication')), { timeoutMs: 15_000, what: 'the replica in sync' });
  upstream = await OrderUpstream.start({ down: () => upstreamDown });
  receiver = await TriggerReceiver.start();
  // One try per run, so a job fails at once for the retry test.
  const options: ChaosConfigOptions = { upstreamUrl: upstream.url, receiverUrl: receiver.url, durability: 'replicated', shop: { retry: { attempts: 1 } } };
  deployment = new Deployment(primary.url, options);
  // Notes wait for an operator (the worker needs no rule: an approved job is queued like any other).
  config = parseConfig(
    layeredConfig(chaosConfig(options), {
      approvals: [{ tools: 'shop.createNote' }],
      callbacks: { secret: 'CALLBACK_SECRET', allowHosts: [new URL(receiver.url).host] },
    }),
  );
  shopQueue = new Queue(SHOP, { connection: primary.client(), prefix: bullPrefix(PREFIX, SHOP) });
  proxy = await StallingRedisProxy.start(primary.url);
  [a, b, c] = await Promise.all([startApi(primary.url), startApi(primary.url), startApi(proxy.url)]);
  await replicaInSync();
}, 30_000);

afterAll(async () => {
  replica?.thaw();
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  await deployment?.stopAll();
  await shopQueue?.close();
  await proxy?.close();
  await Promise.all([upstream?.close(), receiver?.close()]);
  await Promise.all([replica?.stop(), primary?.stop()]);
});

describe('no worker yet', () => {
  it('a duplicate webhook on a fresh connection is not acknowledged while no replica has the event: 503, not 200', async () => {
    const eventId = `evt_${randomUUID().replace(/-/g, '')}`;
    await replicaStopped(async () => {
      expectUnconfirmed(await a.client.postStripeEvent(eventId));
      // The provider's retry reaches another api: the event is stored on the primary, only there.
      expectUnconfirmed(await b.client.postStripeEvent(eventId));
    });
    expect(await b.client.postStripeEvent(eventId)).toMatchObject({ status: 200, body: { duplicate: true } });
  });

  it('a cancel is not acknowledged while no replica has it: 503 with Retry-After', async () => {
    const queued = await submit(a, order(`cancel-${randomUUID()}`), randomUUID()).expect(202);
    const id = queued.body.id as string;
    const res = await replicaStopped(() => request(b.server).delete(`/v1/jobs/${id}`).set(AGENT));
    expectUnconfirmed(res);
    expect(res.body.detail).toMatch(/cancelled on the Redis primary/);
    expect(await statusOf(id)).toBe('cancelled');
  });

  it('an event replay is not acknowledged while no replica has its deliveries: 503', async () => {
    const posted = await a.client.postStripeEvent();
    expect(posted.status).toBe(200);
    const res = await replicaStopped(() =>
      request(b.server)
        .post(`/v1/events/${encodeURIComponent(posted.body.id as string)}/replay`)
        .set(ADMIN),
    );
    expectUnconfirmed(res);
  });

  it('an approval and a denial are not acknowledged while no replica has them: 503', async () => {
    const [held, other] = await Promise.all([submit(a, note(`approve-${randomUUID()}`)).expect(202), submit(a, note(`deny-${randomUUID()}`)).expect(202)]);
    expect(held.body.status).toBe('awaiting_approval');
    const [approved, denied] = await replicaStopped(() =>
      Promise.all([
        request(b.server)
          .post(`/v1/jobs/${held.body.id as string}/approve`)
          .set(ADMIN),
        request(b.server)
          .post(`/v1/jobs/${other.body.id as string}/deny`)
          .set(ADMIN),
      ]),
    );
    expectUnconfirmed(approved);
    expectUnconfirmed(denied);
    expect(await statusOf(held.body.id as string)).toBe('queued');
    expect(await statusOf(other.body.id as string)).toBe('failed');
  });

  it('a job without an Idempotency-Key that no replica confirmed is withdrawn before its 503: the resubmission is the only job that runs', async () => {
    const sku = `unkeyed-${randomUUID()}`;
    const refused = await replicaStopped(() => submit(a, order(sku)));
    expectUnconfirmed(refused);
    expect(refused.body.detail).toMatch(/could not be queued/);
    const id = await shopJobOf(sku);
    expect(await statusOf(id)).toBe('cancelled');

    // The worker that takes it later skips it: nothing reaches the upstream.
    await deployment.worker('W');
    await waitFor(async () => (await shopQueue.getJobState(id)) === 'completed', { timeoutMs: 15_000, what: 'the withdrawn job skipped' });
    expect(upstream.callsFor(id)).toHaveLength(0);
    expect(await statusOf(id)).toBe('cancelled');
  });
});

describe('with a worker', () => {
  beforeAll(async () => {
    if (deployment.processes.length === 0) await deployment.worker('W');
  });

  it('a job replayed by its Idempotency-Key on a fresh connection is not acknowledged while no replica has the original: 503, not 200', async () => {
    const key = `replay-${randomUUID()}`;
    await replicaStopped(async () => {
      expectUnconfirmed(await a.client.submitOrder(key));
      // The worker runs it meanwhile: the replay writes nothing (no re-add of a job that ran).
      const id = await shopJobOf(key);
      await until(id, 'succeeded');
      expectUnconfirmed(await b.client.submitOrder(key));
    });
    const replayed = await b.client.submitOrder(key);
    expect(replayed.status).toBe(200);
    expect(upstream.effects.get(replayed.body.id as string)).toBe(1);
  });

  it('a job without an Idempotency-Key that a worker took before its replica wait failed is answered 202, and runs once', async () => {
    const sku = `taken-${randomUUID()}`;
    const accepted = await replicaStopped(() => submit(a, order(sku)));
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;
    await until(id, 'succeeded');
    expect(upstream.effects.get(id)).toBe(1);
  });

  it('a retry is not acknowledged while no replica has it: 503', async () => {
    upstreamDown = { status: 503, body: { error: 'down for the test' } };
    const failed = await submit(a, order(`retry-${randomUUID()}`), randomUUID()).expect(202);
    const id = failed.body.id as string;
    try {
      await until(id, 'failed');
    } finally {
      upstreamDown = undefined;
    }
    const res = await replicaStopped(() => request(b.server).post(`/v1/jobs/${id}/retry`).set(AGENT));
    expectUnconfirmed(res);
    expect(res.body.detail).toMatch(/queued again on the Redis primary/);
  });

  it('an approved job whose promotion Redis did not answer is promoted in the background: it runs now, not when its hold ends', async () => {
    const held = await submit(a, note(`promote-${randomUUID()}`)).expect(202);
    const id = held.body.id as string;
    expect(await shopQueue.getJobState(id)).toBe('delayed');
    // BullMQ's promote script (its keys: delayed, wait, paused, meta, prioritized, active, pc, events, marker) is lost on the way.
    const isPromote = (args: string[]) =>
      ['eval', 'evalsha'].includes(args[0]?.toLowerCase() ?? '') &&
      args.some((x) => x.endsWith(':pc')) &&
      args.some((x) => x.endsWith(':delayed')) &&
      !args.some((x) => x.endsWith(':id'));
    let lost = false;
    void proxy.stallAfter(isPromote, 200, { swallow: true }).then(() => (lost = true));
    await request(c.server).post(`/v1/jobs/${id}/approve`).set(ADMIN).expect(200);
    await waitFor(() => lost, { what: 'the promotion lost' });
    await until(id, 'succeeded');
  });

  it('a cancelled job whose callback was not confirmed keeps its BullMQ job (the worker that takes a cancelled job queues its callback)', async () => {
    const held = await submit(a, { ...note(`callback-${randomUUID()}`), callbackUrl: `${receiver.url}/callback` }).expect(202);
    const id = held.body.id as string;
    // The callback's add lands, but its answer comes after the cancel stopped waiting for it.
    let stalled = false;
    const callbacks = bullPrefix(PREFIX, CALLBACKS_QUEUE);
    void proxy.stallAfter((args) => isBullMqAdd(args) && args.some((x) => x.startsWith(callbacks)), 700).then(() => (stalled = true));
    await request(c.server).delete(`/v1/jobs/${id}`).set(AGENT).expect(200);
    await waitFor(() => stalled, { what: 'the callback add stalled' });
    expect(await statusOf(id)).toBe('cancelled');
    expect(await shopQueue.getJobState(id)).toBe('delayed');
  });

  it('a reconnect while the WAIT is in flight is no confirmation: the resent WAIT answers for whatever server the connection reached', async () => {
    const eventId = `evt_${randomUUID().replace(/-/g, '')}`;
    // The WAIT's answer is held and the connection cut; ioredis reconnects and resends the fence and the WAIT.
    let cut = false;
    void proxy.stallAfter((args) => args[0]?.toLowerCase() === 'wait', 1000, {
      onMatch: () => {
        cut = true;
        proxy.dropClients();
      },
    });
    expectUnconfirmed(await c.client.postStripeEvent(eventId));
    expect(cut).toBe(true);
    expect(await c.client.postStripeEvent(eventId)).toMatchObject({ status: 200, body: { duplicate: true } });
  });
});
