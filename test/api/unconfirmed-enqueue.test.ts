import request from 'supertest';
import { Redis } from 'ioredis';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { waitForReady } from '@broker/redis/connection';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { JobStatus } from '@broker/shared/jobs/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { demoCreateOrderTool, demoGetContactTool } from '../helpers/demo-tools';
import { REDIS_URL } from '../helpers/redis';
import { StubServer, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, startApi, testConfig, type Harness } from './harness';
import { isBullMqAdd, StallingRedisProxy } from './stalling-redis-proxy';

/**
 * Issue "No write applied twice": a submission whose enqueue Redis ran but
 * did not confirm in time (its answer held past the producer's 1.5 s command
 * timeout by a proxy on the api's connection) is answered 503, and nothing it
 * wrote is deleted while a worker may be calling the upstream with it. With
 * an Idempotency-Key the agent's retry answers the same job, which runs once;
 * without one the job is withdrawn, so the agent's resubmission is the only
 * job that runs. Real Redis, real BullMQ worker, a stub upstream that counts.
 */
let upstream: StubServer;
let proxy: StallingRedisProxy;
let h: Harness;
let workerRedis: Redis;
let worker: WorkerApp | undefined;
let config: BrokerConfig;

const skuOf = (r: StubRequest) => (JSON.parse(r.body || '{}') as { sku?: string }).sku;
const effects = (sku: string) => upstream.requests.filter((r) => r.path === '/orders' && skuOf(r) === sku);
const order = (sku: string) => ({ tool: 'demo.createOrder', input: { sku, qty: 1 } });
const submit = (body: object) => request(h.server).post('/v1/jobs').set(bearer(KEYS.a)).send(body);

/** BullMQ jobs of the demo queue carrying this sku, in any state. */
async function bullJobsOf(sku: string) {
  const jobs = await h.queue.getJobs(['wait', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  return jobs.filter((j) => (j.data as { input?: { sku?: string } }).input?.sku === sku);
}

async function recordStatus(id: string): Promise<JobStatus | undefined> {
  return (await h.store.get(id))?.status;
}

async function startWorker(): Promise<void> {
  worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets: envSecretsProvider({}), logger: testLogger('worker') });
  await worker.ready();
}

function expectUnavailable(res: request.Response, startedAt: number): void {
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  expect(res.headers['retry-after']).toBe('1');
  expect(Date.now() - startedAt).toBeLessThan(2000);
}

beforeAll(async () => {
  // A worker is mid-call while the 503 goes out: the upstream holds its answer.
  upstream = await StubServer.start((r) => ({ status: 201, body: { id: `ord_${skuOf(r)}` }, delayMs: 800 }));
  config = testConfig({
    integrations: { demo: { baseUrl: upstream.url, retry: { attempts: 3 }, tools: [demoGetContactTool, demoCreateOrderTool] } },
  });
  proxy = await StallingRedisProxy.start();
  h = await startApi('api-unconfirmed', { producerUrl: proxy.url, config });
  workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // The producer fails fast: a request before it is connected would be answered 503.
  await waitForReady(h.producer);
  // Warm-up through the proxy: the scripts of a submission and of a cancel are
  // loaded, so no stalled EVALSHA would be answered NOSCRIPT and resent.
  const warm = await submit(order('warm-up')).set('Idempotency-Key', 'warm-up').expect(202);
  await request(h.server).delete(`/v1/jobs/${warm.body.id}`).set(bearer(KEYS.a)).expect(200);
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
  await proxy?.close();
  await upstream?.close();
  workerRedis?.disconnect();
});

describe('a submission whose enqueue landed but was not confirmed', () => {
  it('without an Idempotency-Key: 503, the job is withdrawn before any worker runs it, and the resubmission runs once', async () => {
    // No worker yet: the api withdraws the job before anyone can claim it.
    const stalled = proxy.stallAfter(isBullMqAdd, 2500);
    const startedAt = Date.now();
    const res = await submit(order('unkeyed'));
    expectUnavailable(res, startedAt);
    await stalled;

    // Redis ran the add; the record it belongs to is cancelled, not deleted under a worker.
    const [landed] = await waitFor(
      async () => {
        const jobs = await bullJobsOf('unkeyed');
        return jobs.length === 1 ? jobs : undefined;
      },
      { what: 'the BullMQ job of the unconfirmed add' },
    );
    await waitFor(async () => (await recordStatus(landed!.id!)) === 'cancelled', { what: 'the unconfirmed job to be withdrawn' });

    // The agent, told 503, submits again; a worker then takes both jobs.
    const again = await submit(order('unkeyed')).expect(202);
    await startWorker();
    await waitFor(async () => (await recordStatus(again.body.id)) === 'succeeded', { what: 'the resubmitted job' });
    await waitFor(async () => (await landed!.getState()) === 'completed', { what: 'the worker to skip the withdrawn job' });
    expect(await recordStatus(landed!.id!)).toBe('cancelled');
    expect(effects('unkeyed').map((r) => r.headers['idempotency-key'])).toEqual([again.body.id]);
  });

  it('with an Idempotency-Key: 503, the job is kept, and the retry with the key answers it; one job, one upstream effect', async () => {
    expect(worker).toBeDefined();
    const stalled = proxy.stallAfter(isBullMqAdd, 2500);
    const startedAt = Date.now();
    const res = await submit(order('keyed')).set('Idempotency-Key', 'stalled-add');
    expectUnavailable(res, startedAt);
    expect(res.body.detail).toMatch(/same Idempotency-Key/);
    // Redis did run the add: a worker has the job and its call is at the upstream.
    await waitFor(() => effects('keyed').length === 1, { what: 'the worker to call the upstream' });
    await stalled;

    const retried = await submit(order('keyed')).set('Idempotency-Key', 'stalled-add').expect(200);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    const id: string = retried.body.id;
    await waitFor(async () => (await recordStatus(id)) === 'succeeded', { what: 'the kept job to succeed' });

    expect((await bullJobsOf('keyed')).map((j) => j.id)).toEqual([id]);
    expect(effects('keyed').map((r) => r.headers['idempotency-key'])).toEqual([id]);
    const counts = await h.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('with an Idempotency-Key, when the add never reached Redis: the api re-adds it, and the retry answers the same job; one effect', async () => {
    const stalled = proxy.stallAfter(isBullMqAdd, 2500, { swallow: true });
    const startedAt = Date.now();
    const res = await submit(order('lost-add')).set('Idempotency-Key', 'lost-add');
    expectUnavailable(res, startedAt);
    await stalled;
    // Nobody retried yet: the api itself queued the kept job once Redis answered again.
    await waitFor(() => effects('lost-add').length === 1, { what: 'the re-added job to run' });

    const retried = await submit(order('lost-add')).set('Idempotency-Key', 'lost-add').expect(200);
    const id: string = retried.body.id;
    await waitFor(async () => (await recordStatus(id)) === 'succeeded', { what: 'the re-added job to succeed' });
    expect((await bullJobsOf('lost-add')).map((j) => j.id)).toEqual([id]);
    expect(effects('lost-add').map((r) => r.headers['idempotency-key'])).toEqual([id]);
  });
});
