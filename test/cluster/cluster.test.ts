import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import request from 'supertest';
import { Redis, type Cluster } from 'ioredis';
import { createRedis, type RedisClient } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { integrationQueueName, bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { createApi, type Api } from '@broker/api';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { bearer, KEYS } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { adminToken, apiTestConfig, demoIntegration, parseLayeredConfig, triggerDelivery, webhookSources } from '../helpers/config';
import { demoGetContactTool } from '../helpers/demo-tools';
import { maxInSlidingWindow } from '../helpers/processes';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { webhookSecrets } from '../webhooks/harness';
import { stripeEvent } from '../webhooks/signers';

/*
 * The broker on a 3-primary Redis Cluster: api and worker in this process on
 * Cluster clients (producer, subscriber and worker roles from createRedis with
 * the seeds), a stub upstream and a stub trigger receiver. Every multi-key
 * script would fail with CROSSSLOT here if its keys did not share a slot.
 */

jest.setTimeout(30_000);

const LIMIT = { max: 3, durationMs: 400 };
const PREFIX = 'cl';

let cluster: LocalCluster;
let producer: RedisClient;
let subscriber: RedisClient;
let workerRedis: RedisClient;
let api: Api;
let server: Server;
let worker: WorkerApp;
let upstream: StubServer;
let receiver: StubServer;
const env: Record<string, string | undefined> = { AGENT_A_KEY: KEYS.a, AGENT_B_KEY: `${KEYS.bOld},${KEYS.bNew}`, AGENT_C_KEY: KEYS.c, ...webhookSecrets() };

function clusterConfig(): BrokerConfig {
  const raw = (integration: string) => ({ ...demoGetContactTool, name: `${integration}.getContact` });
  return parseLayeredConfig(apiTestConfig, {
    admin: adminToken,
    integrations: {
      demo: demoIntegration(upstream.url, { retry: { attempts: 1 } }),
      limited: { baseUrl: upstream.url, retry: { attempts: 1 }, concurrency: 10, rateLimit: LIMIT, tools: [raw('limited')] },
      // One call a minute: a second job waits (deferred) and can be cancelled.
      held: { baseUrl: upstream.url, retry: { attempts: 1 }, rateLimit: { max: 1, durationMs: 60_000 }, tools: [raw('held')] },
    },
    webhooks: { stripe: webhookSources.stripe },
    routes: [{ source: 'stripe', event: 'payment_intent.succeeded', trigger: 'process_successful_payment' }],
    triggerDelivery: triggerDelivery(`${receiver.url}/hooks/agent`, { timeoutMs: 2000, retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 400 } }),
  });
}

const submit = (body: object, key?: string) => {
  const req = request(server).post('/v1/jobs').set(bearer(KEYS.c));
  if (key) req.set('Idempotency-Key', key);
  return req.send(body);
};
const getJob = (id: string, waitMs = 0) =>
  request(server)
    .get(`/v1/jobs/${id}${waitMs ? `?waitMs=${waitMs}` : ''}`)
    .set(bearer(KEYS.c));
const admin = { Authorization: 'Bearer admin-token-for-webhook-tests' };

/** The node (by port) that serves `key`'s slot, asked of the cluster itself. */
async function nodeOf(key: string): Promise<number> {
  const client = producer as Cluster;
  const slot = Number(await client.cluster('KEYSLOT', key));
  const slots = await client.cluster('SLOTS');
  const owner = slots.find(([from, to]) => slot >= from && slot <= to);
  return owner![2]![1];
}

beforeAll(async () => {
  cluster = await startLocalCluster();
  const seeds = cluster.nodes.map((n) => `redis://${n.host}:${n.port}`).join(',');
  upstream = await StubServer.start((req) => ({ status: 200, body: { id: req.path.split('/').pop(), name: 'Ada' } }));
  receiver = await StubServer.start(() => ({ status: 200 }));
  const config = clusterConfig();
  producer = createRedis(seeds, 'producer', 'cl-api');
  subscriber = createRedis(seeds, 'subscriber', 'cl-events');
  workerRedis = createRedis(seeds, 'worker', 'cl-worker');
  api = await createApi({ config, redis: producer, subscriber, secrets: envSecretsProvider(env), logger: testLogger('cluster-api'), prefix: PREFIX });
  server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  worker = createWorkerApp({ config, redis: workerRedis, prefix: PREFIX, secrets: envSecretsProvider(env), logger: testLogger('cluster-worker'), outboxSweepMs: 200 });
  await worker.ready();
});

afterAll(async () => {
  await worker?.close();
  await new Promise((resolve) => server?.close(resolve));
  await api?.close();
  for (const client of [producer, subscriber, workerRedis]) client?.disconnect();
  await upstream?.close();
  await receiver?.close();
  await cluster?.stop();
});

it('runs on a Cluster client (not a single Redis)', () => {
  expect(producer).not.toBeInstanceOf(Redis);
  expect((producer as Cluster).nodes('master')).toHaveLength(3);
});

it('submit → long-poll → succeeded (the job-events PUBLISH reaches the Cluster subscriber)', async () => {
  const created = await submit({ tool: 'demo.getContact', input: { id: 'c_1' } }).expect(202);
  const started = Date.now();
  const done = await getJob(created.body.id, 5000).expect(200);
  expect(done.body).toMatchObject({ id: created.body.id, status: 'succeeded', result: { id: 'c_1' } });
  expect(Date.now() - started).toBeLessThan(4000); // woken by the event, not by the 5 s deadline
});

it('an idempotent replay and 20 concurrent duplicates make one job', async () => {
  const body = { tool: 'demo.createOrder', input: { sku: 'sku_1', qty: 2 } };
  const first = await submit(body, 'order-cluster-1').expect(202);
  const replay = await submit(body, 'order-cluster-1');
  expect([200, 202]).toContain(replay.status);
  expect(replay.body.id).toBe(first.body.id);

  const answers = await Promise.all(Array.from({ length: 20 }, () => submit(body, 'order-cluster-burst')));
  const ids = new Set(answers.map((a) => a.body.id as string));
  expect(answers.every((a) => a.status === 200 || a.status === 202)).toBe(true);
  expect(ids.size).toBe(1);
  // The job and its idempotency key share a slot (they were written by one script).
  const keys = redisKeys(PREFIX);
  const [id] = [...ids] as [string];
  expect(Number(await (producer as Cluster).cluster('KEYSLOT', keys.job(id)))).toBe(
    Number(await (producer as Cluster).cluster('KEYSLOT', keys.idempotency('agent-c', createHash('sha256').update('order-cluster-burst').digest('hex')))),
  );
  await waitFor(async () => (await getJob(id).expect(200)).body.status === 'succeeded', { timeoutMs: 10_000, what: 'the deduplicated job to finish' });
  expect(upstream.requests.filter((r) => r.path === '/orders')).toHaveLength(2); // one per key, not 22
});

it('cancels a deferred job', async () => {
  const first = await submit({ tool: 'held.getContact', input: { id: 'h_1' } }).expect(202);
  await waitFor(async () => (await getJob(first.body.id).expect(200)).body.status === 'succeeded', { timeoutMs: 10_000, what: 'the first held job' });
  const second = await submit({ tool: 'held.getContact', input: { id: 'h_2' } }).expect(202);
  await waitFor(async () => (await getJob(second.body.id).expect(200)).body.status === 'deferred', { timeoutMs: 10_000, what: 'the second held job to wait' });
  const cancelled = await request(server).delete(`/v1/jobs/${second.body.id}`).set(bearer(KEYS.c)).expect(200);
  expect(cancelled.body).toMatchObject({ status: 'cancelled' });
  expect(upstream.requests.filter((r) => r.path === '/contacts/h_2')).toHaveLength(0);
});

it('a rate-limited integration keeps its sliding window', async () => {
  const created = await Promise.all(Array.from({ length: 9 }, (_, i) => submit({ tool: 'limited.getContact', input: { id: `l_${i}` } }).expect(202)));
  for (const res of created) {
    await waitFor(async () => (await getJob(res.body.id).expect(200)).body.status === 'succeeded', { timeoutMs: 15_000, what: `limited job ${res.body.id}` });
  }
  const times = upstream.requests.filter((r) => r.path.startsWith('/contacts/l_')).map((r) => r.at);
  expect(times).toHaveLength(9);
  expect(maxInSlidingWindow(times, LIMIT.durationMs)).toBeLessThanOrEqual(LIMIT.max);
});

it('a signed Stripe webhook is stored, a repeat is a duplicate, its trigger is delivered, and the events API lists it', async () => {
  const signed = stripeEvent({ id: 'evt_cluster_1' });
  const post = () => {
    const req = request(server).post('/hooks/stripe');
    for (const [k, v] of Object.entries(signed.headers)) req.set(k, v);
    return req.send(signed.body);
  };
  expect((await post()).body).toMatchObject({ id: 'stripe:evt_cluster_1', duplicate: false });
  expect((await post()).body).toMatchObject({ id: 'stripe:evt_cluster_1', duplicate: true });
  await waitFor(() => receiver.requests.some((r) => r.body.includes('evt_cluster_1')), { timeoutMs: 10_000, what: 'the trigger delivery' });
  expect(receiver.requests.filter((r) => r.body.includes('evt_cluster_1'))).toHaveLength(1);

  env.BROKER_ADMIN_TOKEN = 'admin-token-for-webhook-tests';
  const shown = await request(server).get('/v1/events/stripe:evt_cluster_1').set(admin).expect(200);
  await waitFor(async () => (await request(server).get('/v1/events/stripe:evt_cluster_1').set(admin)).body.deliveries?.[0]?.status === 'delivered', {
    timeoutMs: 5000,
    what: 'the delivery to be recorded',
  });
  expect(shown.body).toMatchObject({ id: 'stripe:evt_cluster_1', type: 'payment_intent.succeeded', body: signed.body });
  for (const query of ['', '?source=stripe', '?type=payment_intent.succeeded', '?source=stripe&type=payment_intent.succeeded']) {
    const listed = await request(server).get(`/v1/events${query}`).set(admin).expect(200);
    expect([query, listed.body.events.map((e: { id: string }) => e.id)]).toEqual([query, ['stripe:evt_cluster_1']]);
  }
});

it('spreads the keys of every flow over the nodes: each primary holds some', async () => {
  const keys = redisKeys(PREFIX);
  const ports = new Set<number>();
  for (const key of [
    keys.webhookEvent('stripe:evt_cluster_1'),
    keys.rateWindow('limited'),
    keys.pause('held'),
    `${bullPrefix(PREFIX, integrationQueueName('demo'))}:${integrationQueueName('demo')}:meta`,
    `${bullPrefix(PREFIX, integrationQueueName('limited'))}:${integrationQueueName('limited')}:meta`,
    `${bullPrefix(PREFIX, integrationQueueName('held'))}:${integrationQueueName('held')}:meta`,
    `${bullPrefix(PREFIX, TRIGGERS_QUEUE)}:${TRIGGERS_QUEUE}:meta`,
  ]) {
    ports.add(await nodeOf(key));
  }
  expect(ports.size).toBeGreaterThan(1);
  const perNode = await Promise.all((producer as Cluster).nodes('master').map((node) => node.dbsize()));
  expect(perNode.every((n) => n > 0)).toBe(true);
});
