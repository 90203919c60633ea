import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { createWorkerApp, startMetricsServer, workerAdminTokenChecker, workerAgentKeyChecker, type MetricsServer, type WorkerApp } from '@broker/worker';
import { bearer, KEYS, startApi, testConfig, type Harness } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { startApp, stopApp, writeConfigFile } from '../helpers/processes';
import { REDIS_URL, uniquePrefix, dropPrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';

/**
 * Prometheus `/metrics` of the api and of the worker (docs/operations.md#metrics-metrics), scraped
 * over HTTP after real jobs ran against a stub upstream: a success, a
 * failure, a 429 and a 503 that is retried. Values are asserted, not just
 * names, and no label may carry a job id.
 */

const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const ADMIN_OLD = `admin-old-${randomBytes(8).toString('hex')}`;

/** Per-path scripts: each path answers its replies in turn, the last one forever. */
const scripts: Record<string, StubReply[]> = {
  '/contacts/ok': [{ status: 200, body: { id: 'ok' } }],
  '/contacts/missing': [{ status: 404, body: { error: 'no such contact' } }],
  '/contacts/throttled': [{ status: 429 }, { status: 200, body: { id: 'throttled' } }],
  '/contacts/flaky': [{ status: 503 }, { status: 200, body: { id: 'flaky' } }],
};

let upstream: StubServer;
let config: BrokerConfig;
let h: Harness;
let workerRedis: Redis;
let worker: WorkerApp;
let workerMetrics: MetricsServer;

function reply(req: StubRequest): StubReply {
  const script = scripts[req.path] ?? [{ status: 404 }];
  const seen = upstream.count((r) => r.path === req.path) - 1;
  return script[Math.min(seen, script.length - 1)]!;
}

/** The value of one series in Prometheus text format, matched on its full label set; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
    if ([...have].sort().join(',') === want) return Number(match[3]);
  }
  return undefined;
}

beforeAll(async () => {
  upstream = await StubServer.start(reply);
  config = testConfig({
    admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } },
    integrations: {
      demo: {
        baseUrl: upstream.url,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
        tools: [
          {
            name: 'demo.getContact',
            method: 'GET',
            path: '/contacts/{id}',
            input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
        ],
      },
    },
  });
  h = await startApi('metrics', { config });
  h.env.BROKER_ADMIN_TOKEN = `${ADMIN},${ADMIN_OLD}`;
  workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const secrets = envSecretsProvider({ BROKER_ADMIN_TOKEN: ADMIN, AGENT_A_KEY: KEYS.a, AGENT_B_KEY: `${KEYS.bOld},${KEYS.bNew}` });
  worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets, logger: testLogger('metrics') });
  await worker.ready();
  workerMetrics = await startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    metrics: worker.metrics,
    isAdmin: workerAdminTokenChecker(config, secrets),
    isAgent: workerAgentKeyChecker(config, secrets),
    logger: testLogger('metrics-server'),
  });
});

afterAll(async () => {
  await workerMetrics?.close();
  await worker?.close();
  workerRedis?.disconnect();
  await h?.close();
  await upstream?.close();
});

/** Submits a job, waits for its end, and returns its id and the request id the api gave the submission. */
async function run(contact: string): Promise<{ id: string; status: string; requestId: string }> {
  const submitted = await request(h.server)
    .post('/v1/jobs')
    .set(bearer(KEYS.a))
    .send({ tool: 'demo.getContact', input: { id: contact } })
    .expect(202);
  const done = await request(h.server).get(`/v1/jobs/${submitted.body.id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
  return { id: submitted.body.id, status: done.body.status, requestId: submitted.headers['x-request-id']! };
}

describe('after a success, a failure, a 429 and a retried 503', () => {
  const jobs: Record<string, { id: string; status: string; requestId: string }> = {};

  beforeAll(async () => {
    for (const contact of ['ok', 'missing', 'throttled', 'flaky']) jobs[contact] = await run(contact);
  });

  it('ran the jobs as expected', () => {
    expect(Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, v.status]))).toEqual({
      ok: 'succeeded',
      missing: 'failed',
      throttled: 'succeeded',
      flaky: 'succeeded',
    });
  });

  it('sends the submitting request id upstream as X-Request-Id, on every try', () => {
    for (const [contact, job] of Object.entries(jobs)) {
      const calls = upstream.requests.filter((r) => r.path === `/contacts/${contact}`);
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(call.headers['x-request-id']).toBe(job.requestId);
    }
    expect(upstream.count((r) => r.path === '/contacts/flaky')).toBe(2);
  });

  it('api /metrics needs the admin token as Bearer', async () => {
    const missing = await request(h.server).get('/metrics').expect(401);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(missing.body.detail).toMatch(/admin token/);
    const unknown = await request(h.server).get('/metrics').set(bearer('not-a-known-token')).expect(401);
    expect(unknown.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(unknown.body.detail).toMatch(/admin token/);
    // A valid agent key (even one with operator scopes, or a rotated value) is known but not allowed.
    for (const key of [KEYS.a, KEYS.bOld, KEYS.bNew]) {
      const agent = await request(h.server).get('/metrics').set(bearer(key)).expect(403);
      expect(agent.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(agent.headers['www-authenticate']).toBeUndefined();
      expect(agent.body).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(agent.body.detail).toMatch(/metrics need the admin token/i);
    }
    await request(h.server).get('/metrics').set(bearer(ADMIN_OLD)).expect(200);
    const res = await request(h.server).get('/metrics').set(bearer(ADMIN)).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('api /metrics counts requests by route template, jobs submitted and queue depths', async () => {
    await request(h.server).get('/no/such/route/job_0123').set(bearer(KEYS.a)).expect(404);
    await request(h.server)
      .get(`/v1/jobs/job_${'0'.repeat(32)}`)
      .expect(401);
    const text = (await request(h.server).get('/metrics').set(bearer(ADMIN)).expect(200)).text;

    expect(sample(text, 'broker_http_requests_total', { route: '/v1/jobs', method: 'POST', status: '202' })).toBe(4);
    expect(sample(text, 'broker_http_request_duration_seconds_count', { route: '/v1/jobs', method: 'POST', status: '202' })).toBe(4);
    expect(sample(text, 'broker_http_requests_total', { route: '/v1/jobs/:id', method: 'GET', status: '200' })).toBe(4);
    expect(sample(text, 'broker_http_requests_total', { route: '/v1/jobs/:id', method: 'GET', status: '401' })).toBe(1);
    expect(sample(text, 'broker_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    // A raw URL never becomes a label: one series per route, not per job.
    expect(text).not.toMatch(/route="[^"]*job_/);

    expect(sample(text, 'broker_jobs_submitted_total', { integration: 'demo', tool: 'demo.getContact' })).toBe(4);
    expect(sample(text, 'broker_queue_jobs', { queue: 'tools-demo', state: 'completed' })).toBe(3);
    expect(sample(text, 'broker_queue_jobs', { queue: 'tools-demo', state: 'failed' })).toBe(1);
    expect(sample(text, 'broker_queue_jobs', { queue: 'tools-demo', state: 'waiting' })).toBe(0);
    expect(sample(text, 'broker_queue_jobs', { queue: 'triggers', state: 'waiting' })).toBe(0);
    expect(sample(text, 'broker_queue_jobs', { queue: 'callbacks', state: 'waiting' })).toBe(0);
  });

  it('worker /metrics counts finished jobs, upstream latency, errors, retries, deferrals and pauses', async () => {
    const url = `http://127.0.0.1:${workerMetrics.port}/metrics`;
    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: expect.stringMatching(/admin token/) });
    const wrong = await fetch(url, { headers: bearer('wrong') });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: expect.stringMatching(/admin token/) });
    for (const key of [KEYS.a, KEYS.bOld, KEYS.bNew]) {
      const agent = await fetch(url, { headers: bearer(key) });
      expect(agent.status).toBe(403);
      expect(agent.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await agent.json()).toMatchObject({ status: 403, code: 'FORBIDDEN', detail: expect.stringMatching(/metrics need the admin token/i) });
    }
    const res = await fetch(url, { headers: bearer(ADMIN) });
    expect(res.status).toBe(200);
    const text = await res.text();

    const demo = { integration: 'demo' };
    const finished = (status: string) => sample(text, 'broker_jobs_finished_total', { ...demo, tool: 'demo.getContact', status });
    expect(finished('succeeded')).toBe(3);
    expect(finished('failed')).toBe(1);
    const calls = (statusClass: string) => sample(text, 'broker_upstream_call_duration_seconds_count', { ...demo, status_class: statusClass });
    expect(calls('2xx')).toBe(3);
    expect(calls('4xx')).toBe(2); // the 404 and the 429
    expect(calls('5xx')).toBe(1);
    expect(sample(text, 'broker_upstream_call_duration_seconds_sum', { ...demo, status_class: '2xx' })).toBeGreaterThan(0);
    expect(sample(text, 'broker_tool_errors_total', { ...demo, code: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'broker_tool_errors_total', { ...demo, code: 'RATE_LIMITED' })).toBe(1);
    expect(sample(text, 'broker_tool_errors_total', { ...demo, code: 'UPSTREAM_ERROR' })).toBe(1);
    expect(sample(text, 'broker_job_retries_total', demo)).toBe(1);
    expect(sample(text, 'broker_rate_limit_deferrals_total', { ...demo, scope: 'integration', reason: 'upstream_429' })).toBe(1);
    expect(sample(text, 'broker_rate_limit_pauses_total', demo)).toBe(1);
  });
});

describe('the worker process', () => {
  it('serves /metrics on WORKER_METRICS_PORT behind the admin token, and not at all without it', async () => {
    const prefix = uniquePrefix('metrics-proc');
    const file = writeConfigFile({
      admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } },
      agents: [{ id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'] }],
      integrations: { demo: { baseUrl: 'http://127.0.0.1:9', tools: [{ name: 'demo.ping', method: 'GET', path: '/ping' }] } },
    });
    const env = { BROKER_CONFIG: file, BROKER_REDIS_PREFIX: prefix, BROKER_ADMIN_TOKEN: ADMIN, AGENT_A_KEY: KEYS.a };
    const proc = await startApp('worker', { ...env, WORKER_METRICS_PORT: '0' }, 'worker ready');
    try {
      const port = /"port":(\d+)[^\n]*"msg":"metrics listening"/.exec(proc.output())?.[1];
      expect(port).toBeDefined();
      const url = `http://127.0.0.1:${port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: bearer('wrong') })).status).toBe(401);
      expect((await fetch(url, { headers: bearer(KEYS.a) })).status).toBe(403);
      const res = await fetch(url, { headers: bearer(ADMIN) });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('broker_process_cpu_user_seconds_total');
    } finally {
      await stopApp(proc);
    }
    const quiet = await startApp('worker', env, 'worker ready');
    try {
      expect(quiet.output()).not.toContain('metrics listening');
    } finally {
      await stopApp(quiet);
      await dropPrefix(prefix);
    }
  });
});
