import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSandboxServer } from '@broker/sandbox';
import { ROOT, startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, uniquePrefix } from '../helpers/redis';

/**
 * The quick start, as a user runs it: the production entry points of the api
 * and the worker on the example config, against the sandbox API. Also checks
 * that no secret reaches a log line or a job.
 */
const prefix = uniquePrefix('e2e');
const secrets = {
  AGENT_A_KEY: 'agent-a-e2e-key-0123456789',
  BROKER_ADMIN_TOKEN: 'admin-e2e-token-0123456789',
  DEMO_API_KEY: 'demo-e2e-upstream-key-0123456789',
};
let sandbox: Server;
let api: RunningProcess;
let worker: RunningProcess;
let base: string;

beforeAll(async () => {
  sandbox = createSandboxServer({ apiKey: secrets.DEMO_API_KEY });
  await new Promise<void>((resolve) => sandbox.listen(0, '127.0.0.1', resolve));
  const example = JSON.parse(readFileSync(join(ROOT, 'broker.config.example.json'), 'utf8'));
  example.integrations.demo.baseUrl = `http://127.0.0.1:${(sandbox.address() as AddressInfo).port}`;
  const env = { BROKER_CONFIG: writeConfigFile(example), BROKER_REDIS_PREFIX: prefix, PORT: '0', ...secrets };
  [api, worker] = await Promise.all([startApp('api', env, 'api listening'), startApp('worker', env, 'worker ready')]);
  const port = /"port":(\d+)/.exec(api.output())![1];
  base = `http://127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all([api && stopApp(api), worker && stopApp(worker)]);
  sandbox.closeAllConnections();
  await new Promise((resolve) => sandbox.close(resolve));
  await dropPrefix(prefix);
});

const auth = { Authorization: `Bearer ${secrets.AGENT_A_KEY}` };

async function submit(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, job: (await res.json()) as { id: string; status: string } };
}

async function awaitJob(id: string) {
  const res = await fetch(`${base}/v1/jobs/${id}?waitMs=10000`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

it('runs the README example: submit, long-poll, succeeded', async () => {
  const { status, job } = await submit({ tool: 'demo.getContact', input: { id: 'c_123' } });
  expect(status).toBe(202);
  expect(job.status).toBe('queued');
  const done = await awaitJob(job.id);
  expect(done).toMatchObject({ id: job.id, status: 'succeeded', attempts: 1, result: { id: 'c_123' } });
});

it('creates one order for two submissions with the same Idempotency-Key', async () => {
  const first = await submit({ tool: 'demo.createOrder', input: { sku: 'sku_1', qty: 2 } }, { 'Idempotency-Key': 'order-42' });
  const again = await submit({ tool: 'demo.createOrder', input: { sku: 'sku_1', qty: 2 } }, { 'Idempotency-Key': 'order-42' });
  expect([first.status, again.status]).toEqual([202, 200]);
  expect(again.job.id).toBe(first.job.id);
  const done = await awaitJob(first.job.id);
  expect(done).toMatchObject({ status: 'succeeded', result: { sku: 'sku_1', qty: 2, status: 'created' } });
});

it('fails a missing contact as NOT_FOUND, not retried', async () => {
  const { job } = await submit({ tool: 'demo.getContact', input: { id: 'missing-1' } });
  expect(await awaitJob(job.id)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NOT_FOUND', retryable: false, upstreamStatus: 404 } });
});

it('never writes a secret to a log line', () => {
  const logs = api.output() + worker.output();
  expect(logs).toContain('upstream call');
  for (const value of Object.values(secrets)) expect(logs).not.toContain(value);
});

it('drains and exits 0 on SIGTERM', async () => {
  api.child.kill('SIGTERM');
  worker.child.kill('SIGTERM');
  expect(await Promise.all([api.exited, worker.exited])).toEqual([0, 0]);
});
