import { Redis } from 'ioredis';
import { parseConfig } from '@broker/shared/config/load';
import { JobSubmitter } from '../helpers/broker';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * A worker killed mid-call loses nothing: another worker re-runs the job with
 * the same upstream idempotency key, so the upstream acts once. A worker told
 * to stop (SIGTERM) finishes its running jobs and exits 0.
 */
const prefix = uniquePrefix('crash');
let stub: StubServer;
let redis: Redis;
let jobs: JobSubmitter;
const processes: RunningProcess[] = [];

/** Orders the stub created, by Idempotency-Key, as an upstream like Stripe keeps them. */
const orders = new Map<string, { id: string }>();
let hangNextCreate = true;
/** Notes the stub made (no idempotency: each POST makes one), found by the `clientRef` they carry. */
const notes: { id: string; clientRef: string }[] = [];

beforeAll(async () => {
  stub = await StubServer.start((req) => {
    if (req.path === '/orders') {
      const key = String(req.headers['idempotency-key']);
      const existing = orders.get(key);
      if (existing) return { status: 200, body: existing, headers: { 'idempotent-replayed': 'true' } };
      orders.set(key, { id: `ord_${orders.size + 1}` });
      if (hangNextCreate) {
        // The order is made, but the answer never comes back: the worker dies waiting.
        hangNextCreate = false;
        return { hang: true };
      }
      return { status: 201, body: orders.get(key) };
    }
    if (req.path === '/slow') return { status: 200, body: { ok: true }, delayMs: 600 };
    // A write without an idempotency key: applied, and its answer never comes back.
    if (req.path === '/notes' && req.method === 'POST') {
      const { clientRef } = JSON.parse(req.body) as { clientRef?: string };
      if (clientRef) notes.push({ id: `note_${notes.length + 1}`, clientRef });
      return { hang: true };
    }
    if (req.path === '/notes') return { status: 200, body: { data: notes.filter((n) => n.clientRef === req.query.get('clientRef')) } };
    return { status: 404 };
  });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopApp(p)));
  await jobs?.close();
  await stub.close();
  redis.disconnect();
  await dropPrefix(prefix);
});

const rawConfig = () => ({
  integrations: {
    shop: {
      baseUrl: stub.url,
      timeoutMs: 60_000,
      tools: [
        { name: 'shop.createOrder', method: 'POST', path: '/orders', idempotent: true, input: { type: 'object' } },
        { name: 'shop.slow', method: 'GET', path: '/slow', input: { type: 'object' } },
        { name: 'shop.addNote', method: 'POST', path: '/notes', input: { type: 'object' } },
      ],
    },
    // The lookup after an interrupted try waits the integration's timeoutMs: short here.
    notes: {
      baseUrl: stub.url,
      timeoutMs: 1000,
      tools: [
        {
          name: 'notes.addFindable',
          method: 'POST',
          path: '/notes',
          input: { type: 'object' },
          reference: { in: 'body', name: 'clientRef' },
          verify: { method: 'GET', path: '/notes', query: { clientRef: '{reference}' }, found: '/data/0' },
        },
      ],
    },
  },
});

function workerEnv(configFile: string) {
  return {
    BROKER_CONFIG: configFile,
    BROKER_REDIS_PREFIX: prefix,
    // Short locks so a dead worker's job is noticed within about a second.
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '500',
  };
}

it('re-runs the job of a worker killed with SIGKILL mid-call, and the upstream acts once', async () => {
  const configFile = writeConfigFile(rawConfig());
  jobs = new JobSubmitter(redis, prefix, parseConfig(rawConfig()));
  const doomed = await startApp('worker', workerEnv(configFile), 'worker ready');
  const id = await jobs.submit('shop.createOrder', { sku: 'sku_1', qty: 1 });

  await waitFor(() => stub.count((r) => r.path === '/orders') === 1, { what: 'the first upstream call' });
  doomed.child.kill('SIGKILL');
  await doomed.exited;

  processes.push(await startApp('worker', workerEnv(configFile), 'worker ready'));
  const job = await jobs.settled(id, 20_000);

  expect(job.status).toBe('succeeded');
  expect(job.result).toEqual({ id: 'ord_1' });
  expect(orders.size).toBe(1);
  const keys = stub.requests.filter((r) => r.path === '/orders').map((r) => r.headers['idempotency-key']);
  expect(keys).toEqual([id, id]);
}, 40_000);

it('never resends a write without an idempotency key whose worker died mid-call: OUTCOME_UNKNOWN, one upstream call', async () => {
  await Promise.all(processes.splice(0).map((p) => stopApp(p)));
  const configFile = writeConfigFile(rawConfig());
  const doomed = await startApp('worker', workerEnv(configFile), 'worker ready');
  const id = await jobs.submit('shop.addNote', { text: 'n1' });

  await waitFor(() => stub.count((r) => r.path === '/notes') === 1, { what: 'the first upstream call' });
  doomed.child.kill('SIGKILL');
  await doomed.exited;

  processes.push(await startApp('worker', workerEnv(configFile), 'worker ready'));
  const job = await jobs.settled(id, 20_000);

  expect(job).toMatchObject({ status: 'failed', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
  expect(job.error?.message).toMatch(/interrupted/);
  expect(stub.count((r) => r.path === '/notes')).toBe(1);
}, 40_000);

it('looks up a write without an idempotency key whose worker died mid-call, by its reference: found, succeeded, one upstream call', async () => {
  await Promise.all(processes.splice(0).map((p) => stopApp(p)));
  const configFile = writeConfigFile(rawConfig());
  const doomed = await startApp('worker', workerEnv(configFile), 'worker ready');
  const id = await jobs.submit('notes.addFindable', { text: 'n2' });

  await waitFor(() => notes.some((n) => n.clientRef === id), { what: 'the note to be made' });
  doomed.child.kill('SIGKILL');
  await doomed.exited;

  processes.push(await startApp('worker', workerEnv(configFile), 'worker ready'));
  const job = await jobs.settled(id, 20_000);

  expect(job).toMatchObject({ status: 'succeeded', result: { id: notes.find((n) => n.clientRef === id)!.id, clientRef: id } });
  expect(stub.count((r) => r.method === 'POST' && r.path === '/notes' && r.body.includes(id))).toBe(1);
  expect(stub.count((r) => r.method === 'GET' && r.path === '/notes' && r.query.get('clientRef') === id)).toBe(1);
}, 40_000);

it('drains running jobs on SIGTERM and exits 0', async () => {
  // Only this worker may take the job.
  await Promise.all(processes.splice(0).map((p) => stopApp(p)));
  const configFile = writeConfigFile(rawConfig());
  const worker = await startApp('worker', workerEnv(configFile), 'worker ready');
  const id = await jobs.submit('shop.slow', {});
  await waitFor(() => stub.count((r) => r.path === '/slow') === 1, { what: 'the slow call to start' });

  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
  const job = await jobs.store.get(id);
  expect(job?.status).toBe('succeeded');
}, 30_000);
