import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { bullPrefix, CALLBACKS_QUEUE } from '@broker/shared/queues';
import { callbackJobId } from '@broker/shared/jobs/callback-job';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { newJobId } from '@broker/shared/jobs/schema';
import { systemLookup } from '@broker/shared/net/ip-policy';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import { classifyDelivery, createWorkerApp, type WorkerApp } from '@broker/worker';
import { bearer, KEYS, startApi, testConfig, type Harness } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { REDIS_URL } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * Completion callbacks end to end (docs/callbacks.md): the api takes the job and its
 * callbackUrl, a real worker runs it against a stub upstream and POSTs the
 * finished job to a stub receiver, signed with Standard Webhooks headers. The
 * SSRF guard is exercised at delivery, where DNS may have changed since the
 * api's check, with a resolver the test controls.
 */

const secretNew = `whsec_${randomBytes(24).toString('base64')}`;
const secretOld = `whsec_${randomBytes(24).toString('base64')}`;

let upstream: StubServer;
/** The receiver the operator allowed (by host and port). */
let receiver: StubServer;
/** A service inside the network that a callback must never reach. */
let trap: StubServer;
let receiverReply: (req: StubRequest, index: number) => StubReply;
let h: Harness;
let workerRedis: Redis;
let worker: WorkerApp;
let callbacks: Queue;
const lookups: string[] = [];
/** The worker's environment: read at each delivery, so a test can break and fix the secret. */
const workerEnv: Record<string, string | undefined> = {};

/** The test's DNS: `rebind.test` now points inside, `pinned.test` is an allowed name only this resolver knows. */
const fakeDns: Record<string, string[]> = { 'rebind.test': ['127.0.0.1'], 'pinned.test': ['127.0.0.1'] };

beforeAll(async () => {
  upstream = await StubServer.start((req) => {
    if (req.path === '/contacts/missing') return { status: 404, body: { error: 'no such contact' } };
    return { status: 200, body: { id: req.path.split('/').pop() } };
  });
  receiver = await StubServer.start((req, i) => receiverReply(req, i));
  trap = await StubServer.start(() => ({ status: 200, body: { stolen: true } }));
  const receiverPort = new URL(receiver.url).port;

  const config = testConfig({
    integrations: {
      demo: {
        baseUrl: upstream.url,
        retry: { attempts: 1 },
        tools: [
          {
            name: 'demo.getContact',
            method: 'GET',
            path: '/contacts/{id}',
            input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
        ],
      },
      other: { baseUrl: upstream.url, tools: [{ name: 'other.ping', method: 'GET', path: '/ping' }] },
    },
    // Only the receiver's port is allowed: the trap listens on the same loopback address.
    callbacks: { secret: 'CALLBACK_SECRET', allowHosts: [`127.0.0.1:${receiverPort}`, `pinned.test:${receiverPort}`] },
  });
  h = await startApi('callbacks', { config });
  workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  worker = createWorkerApp({
    config,
    redis: workerRedis,
    prefix: h.prefix,
    secrets: envSecretsProvider(workerEnv),
    logger: testLogger('callbacks'),
    callbacks: {
      lookup: async (host) => {
        lookups.push(host);
        return fakeDns[host] ?? systemLookup(host);
      },
    },
  });
  await worker.ready();
  callbacks = new Queue(CALLBACKS_QUEUE, { connection: h.redis, prefix: bullPrefix(h.prefix, CALLBACKS_QUEUE) });
});

afterAll(async () => {
  await worker?.close();
  await callbacks?.close();
  workerRedis?.disconnect();
  await h?.close();
  await Promise.all([upstream?.close(), receiver?.close(), trap?.close()]);
});

beforeEach(() => {
  workerEnv.CALLBACK_SECRET = `${secretNew},${secretOld}`;
  receiver.requests.length = 0;
  trap.requests.length = 0;
  lookups.length = 0;
  receiverReply = () => ({ status: 204 });
});

async function submit(input: Record<string, unknown>, tool = 'demo.getContact', key = KEYS.a): Promise<string> {
  const callbackUrl = `${receiver.url}/hooks/jobs`;
  const res = await request(h.server).post('/v1/jobs').set(bearer(key)).send({ tool, input, callbackUrl }).expect(202);
  return res.body.id as string;
}

const deliveriesOf = (jobId: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === `msg_${jobId}`);

/** Waits until the callback's BullMQ job is finished and returns its state and failure reason. */
async function callbackSettled(jobId: string): Promise<{ state: string; reason: string | undefined }> {
  return waitFor(
    async () => {
      const state = await callbacks.getJobState(callbackJobId(jobId));
      if (state !== 'completed' && state !== 'failed') return undefined;
      // Read after the state: a job read before it failed has no failedReason yet.
      return { state, reason: (await callbacks.getJob(callbackJobId(jobId)))?.failedReason };
    },
    { timeoutMs: 10_000, what: `the callback of ${jobId} to settle` },
  );
}

/** A finished job written straight to the store, as if the api had accepted its URL when DNS said otherwise. */
async function finishedJobWithCallback(callbackUrl: string): Promise<string> {
  const id = newJobId(randomBytes(16).toString('hex'));
  const record: JobRecord = {
    id,
    tool: 'demo.getContact',
    status: 'succeeded',
    attempts: 1,
    createdAt: new Date().toISOString(),
    agentId: 'agent-a',
    integration: 'demo',
    connection: 'default',
    callbackUrl,
  };
  await h.store.create(record);
  await worker.callbacks!.enqueue(id);
  return id;
}

describe('delivery', () => {
  it('POSTs the finished job once, signed so that the standardwebhooks library verifies it with either rotated secret', async () => {
    const id = await submit({ id: 'c_1' });
    const [delivery] = await waitFor(() => deliveriesOf(id).length === 1 && deliveriesOf(id), { what: 'the callback' });

    const job = (await request(h.server).get(`/v1/jobs/${id}`).set(bearer(KEYS.a)).expect(200)).body;
    expect(job).toMatchObject({ id, status: 'succeeded', result: { id: 'c_1' } });
    expect(delivery!.method).toBe('POST');
    expect(delivery!.path).toBe('/hooks/jobs');
    expect(delivery!.headers['content-type']).toBe('application/json');
    const headers = delivery!.headers as Record<string, string>;
    for (const secret of [secretNew, secretOld]) {
      expect(new Webhook(secret).verify(delivery!.body, headers)).toEqual(job);
    }
    expect(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(delivery!.body, headers)).toThrow();

    // Enqueued once: whoever queues the same job's callback again changes nothing.
    expect((await callbackSettled(id)).state).toBe('completed');
    await worker.callbacks!.enqueue(id);
    expect(await (await callbacks.getJob(callbackJobId(id)))!.getState()).toBe('completed');
    expect(deliveriesOf(id)).toHaveLength(1);
  });

  it('retries a 500 within 5 s with the same webhook-id and body, and reports a failed job', async () => {
    receiverReply = (_req, i) => (i === 0 ? { status: 500 } : { status: 200 });
    const id = await submit({ id: 'missing' });
    const [first, second] = await waitFor(() => deliveriesOf(id).length === 2 && deliveriesOf(id), {
      timeoutMs: 8000,
      what: 'a retried callback',
    });
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body).toBe(first!.body);
    expect(second!.at - first!.at).toBeLessThan(5000);
    expect(JSON.parse(second!.body)).toMatchObject({ id, status: 'failed', error: { code: 'NOT_FOUND' } });
    expect((await callbackSettled(id)).state).toBe('completed');
    const outcomes = Object.fromEntries((await worker.metrics.callbackDeliveries.get()).values.map((v) => [v.labels.outcome, v.value]));
    expect(outcomes.retried).toBeGreaterThanOrEqual(1);
    expect(outcomes.delivered).toBeGreaterThanOrEqual(2);
  });

  it('waits at least the Retry-After of a 503', async () => {
    receiverReply = (_req, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
    const id = await submit({ id: 'c_ra' });
    const [first, second] = await waitFor(() => deliveriesOf(id).length === 2 && deliveriesOf(id), {
      timeoutMs: 8000,
      what: 'the retry after Retry-After',
    });
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('stops at 410 Gone', async () => {
    receiverReply = () => ({ status: 410 });
    const id = await submit({ id: 'c_gone' });
    const settled = await callbackSettled(id);
    expect(settled).toEqual({ state: 'failed', reason: expect.stringMatching(/410/) });
    expect(deliveriesOf(id)).toHaveLength(1);
  });

  it('keeps retrying while the secret is unusable (not base64), and delivers once it is fixed', async () => {
    workerEnv.CALLBACK_SECRET = 'not-base64_at-all';
    const id = await submit({ id: 'c_secret' });
    await waitFor(async () => ((await callbacks.getJob(callbackJobId(id)))?.attemptsMade ?? 0) >= 1, { what: 'a failed try' });
    expect(deliveriesOf(id)).toHaveLength(0);
    workerEnv.CALLBACK_SECRET = secretNew;
    const [delivery] = await waitFor(() => deliveriesOf(id).length === 1 && deliveriesOf(id), { timeoutMs: 8000, what: 'the callback' });
    expect(new Webhook(secretNew).verify(delivery!.body, delivery!.headers as Record<string, string>)).toMatchObject({ id });
  });

  it('delivers the callback of a job cancelled in the api, with status cancelled', async () => {
    const otherQueue = new Queue('tools-other', { connection: h.redis, prefix: bullPrefix(h.prefix, 'tools-other') });
    await otherQueue.pause(); // no worker takes the job, so it can be cancelled
    try {
      const id = await submit({}, 'other.ping', KEYS.c);
      await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.c)).expect(200);
      const [delivery] = await waitFor(() => deliveriesOf(id).length === 1 && deliveriesOf(id), { what: 'the cancel callback' });
      expect(JSON.parse(delivery!.body)).toMatchObject({ id, status: 'cancelled' });
      expect(new Webhook(secretNew).verify(delivery!.body, delivery!.headers as Record<string, string>)).toMatchObject({ id });
    } finally {
      await otherQueue.resume();
      await otherQueue.close();
    }
  });
});

describe('idempotency keys and the receiver answers (docs/callbacks.md)', () => {
  /** How often the receiver has seen the delivery `req` belongs to, this one included. */
  const seen = (req: StubRequest) => receiver.requests.filter((r) => r.headers['webhook-id'] === req.headers['webhook-id']).length;
  /** The callback job's data: the deliverer records the last failed try there. */
  const callbackData = async (jobId: string) => (await callbacks.getJob(callbackJobId(jobId)))?.data as { jobId: string; lastError?: string; lastStatus?: number };

  it('500 then 200: both tries carry the same Idempotency-Key, equal to webhook-id; the delivery clears lastError', async () => {
    receiverReply = (req) => (seen(req) === 1 ? { status: 500, raw: 'database is down' } : { status: 200 });
    const id = await submit({ id: 'c_idem' });
    const [first, second] = await waitFor(() => deliveriesOf(id).length === 2 && deliveriesOf(id), { timeoutMs: 8000, what: 'a retried callback' });
    expect(first!.headers['idempotency-key']).toBe(`msg_${id}`);
    expect(first!.headers['idempotency-key']).toBe(first!.headers['webhook-id']);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.at - first!.at).toBeLessThan(5000);
    expect((await callbackSettled(id)).state).toBe('completed');
    expect(await callbackData(id)).toEqual({ jobId: id });
  });

  it('while it retries, the callback job shows the last answer in lastError', async () => {
    receiverReply = (req) => (seen(req) === 1 ? { status: 503, headers: { 'retry-after': '2' }, raw: 'deploying' } : { status: 204 });
    const id = await submit({ id: 'c_busy' });
    const data = await waitFor(async () => (await callbackData(id))?.lastError !== undefined && callbackData(id), { what: 'the first failed try' });
    expect(data).toEqual({ jobId: id, lastError: 'the receiver answered 503: deploying', lastStatus: 503 });
    expect((await callbackSettled(id)).state).toBe('completed');
  });

  it('400 with a 2 KB body: tried once, failed for good, lastError holds exactly the first 500 bytes', async () => {
    const body = `${'a'.repeat(250)}${'b'.repeat(250)}${'C'.repeat(1548)}`;
    receiverReply = () => ({ status: 400, raw: body });
    const id = await submit({ id: 'c_bad' });
    const settled = await callbackSettled(id);
    const lastError = `the receiver answered 400: ${body.slice(0, 500)}`;
    expect(settled).toEqual({ state: 'failed', reason: lastError });
    expect(await callbackData(id)).toEqual({ jobId: id, lastError, lastStatus: 400 });
    expect((await callbacks.getJob(callbackJobId(id)))!.attemptsMade).toBe(1);
    expect(deliveriesOf(id)).toHaveLength(1);
  });

  it.each([408, 429])('%i is retried with the same Idempotency-Key', async (status) => {
    receiverReply = (req) => (seen(req) === 1 ? { status } : { status: 200 });
    const id = await submit({ id: `c_${status}` });
    const [first, second] = await waitFor(() => deliveriesOf(id).length === 2 && deliveriesOf(id), { timeoutMs: 8000, what: `a retry after ${status}` });
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.at - first!.at).toBeLessThan(5000);
    expect((await callbackSettled(id)).state).toBe('completed');
  });

  it('blanks callbacks.secret where the answer quotes it', async () => {
    receiverReply = () => ({ status: 401, raw: `expected ${secretNew} or ${secretOld.slice('whsec_'.length)}` });
    const id = await submit({ id: 'c_quote' });
    const settled = await callbackSettled(id);
    expect(settled).toEqual({ state: 'failed', reason: 'the receiver answered 401: expected [redacted] or [redacted]' });
    expect((await callbackData(id)).lastError).toBe(settled.reason);
  });
});

describe('SSRF guard at delivery', () => {
  it('does not follow a redirect to a private address: a 3xx is a failed delivery', async () => {
    receiverReply = () => ({ status: 302, headers: { location: `${trap.url}/internal` } });
    const id = await submit({ id: 'c_redirect' });
    const settled = await callbackSettled(id);
    expect(settled).toEqual({ state: 'failed', reason: expect.stringMatching(/302.*redirects are not followed/) });
    expect(deliveriesOf(id)).toHaveLength(1);
    expect(trap.count()).toBe(0);
  });

  it('refuses a name that now resolves to 127.0.0.1 and is not in allowHosts', async () => {
    const trapPort = new URL(trap.url).port;
    for (const url of [`http://rebind.test:${trapPort}/cb`, `http://localhost:${trapPort}/cb`]) {
      const id = await finishedJobWithCallback(url);
      expect(await callbackSettled(id)).toEqual({ state: 'failed', reason: expect.stringMatching(/refused by the callback policy/) });
    }
    expect(lookups).toEqual(expect.arrayContaining(['rebind.test', 'localhost']));
    expect(trap.count()).toBe(0);
  });

  it.each([
    ['decimal', (port: string) => `http://2130706433:${port}/cb`],
    ['hex', (port: string) => `http://0x7f000001:${port}/cb`],
    ['dotted hex', (port: string) => `http://0x7f.0.0.1:${port}/cb`],
    ['octal', (port: string) => `http://0177.0.0.1:${port}/cb`],
    ['IPv4-mapped IPv6', (port: string) => `http://[::ffff:127.0.0.1]:${port}/cb`],
    ['IPv4-mapped IPv6, hex', (port: string) => `http://[::ffff:7f00:1]:${port}/cb`],
    ['IPv6 loopback', (port: string) => `http://[::1]:${port}/cb`],
    ['metadata', () => 'http://169.254.169.254/latest/meta-data'],
    ['unique-local metadata', () => 'http://[fd00:ec2::254]/latest'],
    ['private', () => 'http://10.0.0.1/cb'],
  ])('refuses the %s spelling of an internal address', async (_name, urlFor) => {
    const id = await finishedJobWithCallback(urlFor(new URL(trap.url).port));
    expect(await callbackSettled(id)).toEqual({ state: 'failed', reason: expect.stringMatching(/refused by the callback policy/) });
    expect(trap.count()).toBe(0);
  });

  it('connects to the address it checked, resolving the name once per try', async () => {
    const id = await finishedJobWithCallback(`http://pinned.test:${new URL(receiver.url).port}/cb`);
    expect((await callbackSettled(id)).state).toBe('completed');
    // The system resolver does not know pinned.test: the connection used the checked answer.
    expect(deliveriesOf(id)).toHaveLength(1);
    expect(deliveriesOf(id)[0]!.headers.host).toBe(`pinned.test:${new URL(receiver.url).port}`);
    expect(lookups.filter((host) => host === 'pinned.test')).toEqual(['pinned.test']);
  });
});

describe('classifyDelivery', () => {
  const answered = (status: number, headers: Record<string, string> = {}) => classifyDelivery({ kind: 'answered', status, headers });

  it('retries busy and absent receivers, honouring Retry-After', () => {
    expect(answered(200)).toEqual({ action: 'delivered', status: 200 });
    expect(answered(429, { 'retry-after': '7' })).toEqual({ action: 'retry', reason: expect.any(String), retryAfterMs: 7000 });
    expect(answered(408).action).toBe('retry');
    expect(answered(502).action).toBe('retry');
    expect(classifyDelivery({ kind: 'unreachable', reason: 'ECONNREFUSED' }).action).toBe('retry');
  });

  it('stops on 410, other 4xx, 3xx and refused URLs', () => {
    for (const status of [410, 400, 404, 301, 307]) expect(answered(status).action).toBe('stop');
    expect(classifyDelivery({ kind: 'refused', reason: 'private' }).action).toBe('stop');
  });
});
