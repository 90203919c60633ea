import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { redisKeys } from '@broker/redis/keys';
import type { PublicJob } from '@broker/shared/jobs/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { demoCreateOrderTool, demoGetContactTool } from '../helpers/demo-tools';
import { REDIS_URL } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, startApi, testConfig, type Harness } from './harness';

/**
 * Approval holds (docs/guardrails.md#approval-holds: approve/deny, GET /v1/approvals)
 * against a real api + worker + Redis and a counting upstream stub: a held job
 * never reaches the upstream until an operator approves it; a denied, expired
 * or cancelled one never does. Decisions race safely, alerts name the job
 * without its input, and hostile bodies never 5xx.
 */

const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;
const ALERT_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
/** An input value the alert and the logs must never carry. */
const MARKER = 918_273;

let upstream: StubServer;
let alerts: StubServer;
let callbacks: StubServer;
let h: Harness;
let workerRedis: Redis;
let worker: WorkerApp;

const A = bearer(KEYS.a);
const B = bearer(KEYS.bNew);
/** agent-c holds `jobs:approve`. */
const C = bearer(KEYS.c);
const ADMIN = bearer(ADMIN_TOKEN);

const refundTool = {
  name: 'demo.refund',
  method: 'POST',
  path: '/refunds',
  idempotent: true,
  input: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' }, note: { type: 'string' } } },
} as const;
const exportTool = { name: 'demo.export', method: 'GET', path: '/exports/{id}', input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } } as const;

const calls = (path: string) => upstream.count((r) => r.path === path);

async function submit(key: Record<string, string>, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<PublicJob> {
  const res = await request(h.server).post('/v1/jobs').set(key).set(headers).send(body).expect(202);
  return res.body as PublicJob;
}

async function held(key: Record<string, string>, body: Record<string, unknown>): Promise<string> {
  const job = await submit(key, body);
  expect(job.status).toBe('awaiting_approval');
  return job.id;
}

const approve = (key: Record<string, string> | undefined, id: string, body?: unknown) => {
  const req = request(h.server).post(`/v1/jobs/${id}/approve`);
  if (key) req.set(key);
  return body === undefined ? req : req.send(body as object);
};
const deny = (key: Record<string, string> | undefined, id: string, body?: unknown) => {
  const req = request(h.server).post(`/v1/jobs/${id}/deny`);
  if (key) req.set(key);
  return body === undefined ? req : req.send(body as object);
};
const listed = async (key = ADMIN) => (await request(h.server).get('/v1/approvals').set(key).expect(200)).body.jobs as Array<PublicJob & Record<string, unknown>>;

interface AlertBody {
  type: string;
  data: { kind: string; cause: string; summary: string; severity: string; details: Record<string, unknown> };
}
const alertFor = (jobId: string) =>
  waitFor(
    () =>
      alerts.requests
        .map((r) => ({ raw: r.body, body: new Webhook(ALERT_SECRET).verify(r.body, r.headers as Record<string, string>) as AlertBody }))
        .find((a) => a.body.data.details.jobId === jobId),
    { what: `the approval_requested alert of ${jobId}` },
  );

beforeAll(async () => {
  upstream = await StubServer.start((req) => {
    if (req.method === 'POST') return { status: 201, body: { id: `obj_${upstream.requests.length}`, ...(JSON.parse(req.body || '{}') as object) } };
    return { status: 200, body: { id: req.path.split('/').pop() } };
  });
  alerts = await StubServer.start(() => ({ status: 204 }));
  callbacks = await StubServer.start(() => ({ status: 204 }));
  const config = testConfig({
    agents: [
      { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'] },
      { id: 'agent-b', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:demo.*', 'events:read'] },
      { id: 'agent-c', key: { secret: 'AGENT_C_KEY' }, scopes: ['tools:*', 'jobs:approve'] },
    ],
    admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } },
    integrations: {
      demo: { baseUrl: upstream.url, retry: { attempts: 1 }, tools: [demoGetContactTool, demoCreateOrderTool, refundTool, exportTool] },
    },
    approvals: [
      { tools: 'demo.refund', when: { pointer: '/input/amount', gt: 1000 } },
      { tools: 'demo.create*', agents: ['agent-a*'] },
      { tools: 'demo.export', timeoutSeconds: 1 },
    ],
    alerts: { webhook: { format: 'standard', url: `${alerts.url}/alerts`, secret: 'ALERT_SIGNING_SECRET' }, windowMs: 60_000 },
    callbacks: { secret: 'CALLBACK_SECRET', allowHosts: [new URL(callbacks.url).host] },
  });
  h = await startApi('approvals', { config });
  Object.assign(h.env, { BROKER_ADMIN_TOKEN: ADMIN_TOKEN, ALERT_SIGNING_SECRET: ALERT_SECRET, CALLBACK_SECRET: `whsec_${randomBytes(24).toString('base64')}` });
  workerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets: envSecretsProvider(h.env), logger: testLogger('approvals') });
  await worker.ready();
});

afterAll(async () => {
  await worker?.close();
  workerRedis?.disconnect();
  await h?.close();
  await Promise.all([upstream?.close(), alerts?.close(), callbacks?.close()]);
});

describe('a held job', () => {
  it('waits in awaiting_approval, delayed in its queue, is listed, and after approval runs once and succeeds', async () => {
    const job = await submit(A, { tool: 'demo.refund', input: { amount: 5000, note: 'held-approve' }, callbackUrl: `${callbacks.url}/cb` });
    expect(job).toMatchObject({ status: 'awaiting_approval', attempts: 0 });
    expect(job).not.toHaveProperty('hold');
    expect(await h.queue.getJobState(job.id)).toBe('delayed');

    const mine = (await listed()).find((j) => j.id === job.id);
    expect(mine).toMatchObject({
      id: job.id,
      tool: 'demo.refund',
      status: 'awaiting_approval',
      agent: 'agent-a',
      connection: 'default',
      rule: { index: 0, tools: 'demo.refund', when: { pointer: '/input/amount', gt: 1000 }, timeoutSeconds: 86_400 },
      expiresAt: expect.any(String),
      input: { amount: 5000, note: 'held-approve' },
    });
    expect(Date.parse(mine!.expiresAt as string) - Date.parse(job.createdAt)).toBe(86_400_000);
    // Still held, to the agent too: a long-poll answers with the job as it stands.
    expect((await request(h.server).get(`/v1/jobs/${job.id}`).set(A).expect(200)).body.status).toBe('awaiting_approval');
    expect(calls('/refunds')).toBe(0);

    const res = await approve(ADMIN, job.id, { reason: 'ticket 4411' }).expect(200);
    expect(res.body).toMatchObject({ id: job.id, status: 'queued' });
    expect(res.body).not.toHaveProperty('decision');

    expect(await h.finished(A, job.id)).toMatchObject({ status: 'succeeded', attempts: 1, result: { amount: 5000 } });
    expect(calls('/refunds')).toBe(1);
    expect(await h.store.get(job.id)).toMatchObject({ decision: { outcome: 'approved', by: 'admin', reason: 'ticket 4411' }, hold: { rule: { index: 0 } } });
    expect((await listed()).some((j) => j.id === job.id)).toBe(false);
    // The callback fires once, on the terminal state.
    await waitFor(() => callbacks.requests.find((r) => r.body.includes(job.id)), { what: 'the callback' });
    expect(JSON.parse(callbacks.requests.find((r) => r.body.includes(job.id))!.body)).toMatchObject({ id: job.id, status: 'succeeded' });
  });

  it('denied: failed APPROVAL_DENIED with the reason, no upstream call, its BullMQ job removed, its callback sent, its long-poll woken', async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: 7000, note: 'held-deny' }, callbackUrl: `${callbacks.url}/cb` });
    const poll = request(h.server)
      .get(`/v1/jobs/${id}?waitMs=20000`)
      .set(A)
      .then((r) => r.body as PublicJob);
    await waitFor(() => h.api.waiting() > 0, { what: 'the long-poll to start waiting' });

    const res = await deny(ADMIN, id, { reason: 'over the monthly budget' }).expect(200);
    expect(res.body).toMatchObject({ id, status: 'failed', error: { code: 'APPROVAL_DENIED', retryable: false } });
    expect(res.body.error.message).toContain('over the monthly budget');
    expect(await poll).toMatchObject({ id, status: 'failed', error: { code: 'APPROVAL_DENIED' } });
    expect(await h.queue.getJob(id)).toBeUndefined();
    expect(await h.store.get(id)).toMatchObject({ decision: { outcome: 'denied', by: 'admin', reason: 'over the monthly budget' } });
    await waitFor(() => callbacks.requests.find((r) => r.body.includes(id)), { what: 'the callback of the denied job' });
    expect(JSON.parse(callbacks.requests.find((r) => r.body.includes(id))!.body)).toMatchObject({ id, status: 'failed', error: { code: 'APPROVAL_DENIED' } });
    // A denial is final: the agent cannot retry its way past it.
    expect((await request(h.server).post(`/v1/jobs/${id}/retry`).set(A).expect(409)).body.code).toBe('CONFLICT');
    expect(upstream.count((r) => r.body.includes('held-deny'))).toBe(0);
    // The audit trail says who held and who denied it, never what it would have sent.
    const trail = await waitFor(
      async () => {
        const res = await request(h.server).get('/v1/audit?agent=agent-a&limit=100').set(ADMIN).expect(200);
        const mine = (res.body.entries as Array<{ jobId: string; event: string; by?: string }>).filter((e) => e.jobId === id);
        return mine.some((e) => e.event === 'failed') ? { mine, raw: res.text } : undefined;
      },
      { what: 'the audit entries of the denied job' },
    );
    expect(trail.mine.map((e) => e.event).sort()).toEqual(['denied', 'failed', 'held', 'submitted']);
    expect(trail.mine.find((e) => e.event === 'denied')?.by).toBe('admin');
    expect(trail.raw).not.toContain('held-deny');
  });

  it('denied without a reason says so', async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: 7001 } });
    const res = await deny(ADMIN, id).expect(200);
    expect(res.body.error).toMatchObject({ code: 'APPROVAL_DENIED', message: 'An operator denied the job (no reason given).' });
  });

  it('undecided past timeoutSeconds: the worker fails it APPROVAL_EXPIRED, no upstream call', async () => {
    const id = await held(A, { tool: 'demo.export', input: { id: 'exp-1' }, callbackUrl: `${callbacks.url}/cb` });
    const done = await h.finished(A, id);
    expect(done).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'APPROVAL_EXPIRED', retryable: false } });
    expect(done.startedAt).toBeUndefined();
    expect(calls('/exports/exp-1')).toBe(0);
    expect(await h.store.get(id)).toMatchObject({ decision: { outcome: 'expired' } });
    // Completed in BullMQ, not failed: `broker jobs retry-failed` cannot run a job nobody approved.
    expect(await h.queue.getJobState(id)).toBe('completed');
    await waitFor(() => callbacks.requests.find((r) => r.body.includes(id)), { what: 'the callback of the expired job' });
    // Too late to decide now.
    expect((await approve(ADMIN, id).expect(409)).body.code).toBe('CONFLICT');
    expect((await request(h.server).post(`/v1/jobs/${id}/retry`).set(A).expect(409)).body.code).toBe('CONFLICT');
  });

  it('cancelled by its agent while held: cancelled, the BullMQ job gone, unlisted, no upstream call', async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: 8000, note: 'held-cancel' } });
    expect((await request(h.server).delete(`/v1/jobs/${id}`).set(A).expect(200)).body).toMatchObject({ id, status: 'cancelled' });
    expect(await h.queue.getJob(id)).toBeUndefined();
    expect((await listed()).some((j) => j.id === id)).toBe(false);
    expect((await approve(ADMIN, id).expect(409)).body.detail).toContain('cancelled');
    expect(upstream.count((r) => r.body.includes('held-cancel'))).toBe(0);
    expect(await h.redis.zscore(redisKeys(h.prefix).approvals, id)).toBeNull();
  });

  it('answers an Idempotency-Key replay with the held job', async () => {
    const body = { tool: 'demo.refund', input: { amount: 4000, note: 'held-replay' } };
    const first = await submit(A, body, { 'Idempotency-Key': 'refund-held-1' });
    expect(first.status).toBe('awaiting_approval');
    const again = await request(h.server).post('/v1/jobs').set(A).set('Idempotency-Key', 'refund-held-1').send(body).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toMatchObject({ id: first.id, status: 'awaiting_approval' });
    expect((await listed()).filter((j) => (j.input as { note?: string } | undefined)?.note === 'held-replay')).toHaveLength(1);
    await deny(ADMIN, first.id).expect(200);
  });

  it('is shown over MCP as still running, not as an error', async () => {
    const res = await request(h.server)
      .post('/mcp')
      .set(A)
      .set('Accept', 'application/json, text/event-stream')
      .send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo_refund', arguments: { amount: 9000, note: 'held-mcp' }, _meta: { 'broker/waitMs': 0 } } })
      .expect(200);
    const answer = JSON.parse(/^data: (.*)$/m.exec(res.text)?.[1] ?? res.text) as {
      result: { isError?: boolean; structuredContent: { job: PublicJob }; content: Array<{ text: string }> };
    };
    expect(answer.result.isError).toBeFalsy();
    expect(answer.result.structuredContent).toEqual({ job: expect.objectContaining({ status: 'awaiting_approval' }) });
    expect(answer.result.content[0]!.text).toContain('approve');
    await deny(ADMIN, answer.result.structuredContent.job.id).expect(200);
  });
});

describe('which jobs are held', () => {
  it('`when` gt on /input/amount: below runs at once, above is held', async () => {
    const small = await submit(A, { tool: 'demo.refund', input: { amount: 500, note: 'small-refund' } });
    expect(small.status).toBe('queued');
    expect(await h.finished(A, small.id)).toMatchObject({ status: 'succeeded' });
    const exactly = await submit(A, { tool: 'demo.refund', input: { amount: 1000, note: 'limit-refund' } });
    expect(exactly.status).toBe('queued');
    const big = await submit(A, { tool: 'demo.refund', input: { amount: 1000.5, note: 'big-refund' } });
    expect(big.status).toBe('awaiting_approval');
    await deny(ADMIN, big.id).expect(200);
  });

  it('`agents` globs: agent-a is held for demo.create*, agent-c is not', async () => {
    const a = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku-held-a', qty: 1 } });
    expect(a.status).toBe('awaiting_approval');
    const c = await submit(C, { tool: 'demo.createOrder', input: { sku: 'sku-free-c', qty: 1 } });
    expect(c.status).toBe('queued');
    expect(await h.finished(C, c.id)).toMatchObject({ status: 'succeeded' });
    expect(upstream.count((r) => r.body.includes('sku-held-a'))).toBe(0);
    const rule = (await listed()).find((j) => j.id === a.id)?.rule;
    expect(rule).toEqual({ index: 1, tools: 'demo.create*', agents: ['agent-a*'], timeoutSeconds: 86_400 });
    await deny(ADMIN, a.id).expect(200);
  });
});

describe('GET /v1/approvals: query', () => {
  it('names a parameter it does not know (there is no agent filter), rather than listing every held job', async () => {
    const unknown = await request(h.server).get('/v1/approvals?agent=agent-a').set(ADMIN).expect(422);
    expect(unknown.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: '/agent', message: 'is not a known parameter' }] });
  });
});

describe('who may decide', () => {
  it("an agent with jobs:approve approves another agent's job; without it 403; no token 401; its own job 403", async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: 6000, note: 'agent-approve' } });
    expect((await approve(B, id).expect(403)).body.code).toBe('FORBIDDEN');
    expect((await approve(undefined, id).expect(401)).body.code).toBe('UNAUTHENTICATED');
    expect((await request(h.server).get('/v1/approvals').set(B).expect(403)).body.code).toBe('FORBIDDEN');
    await request(h.server).get('/v1/approvals').expect(401);
    expect((await listed(C)).some((j) => j.id === id)).toBe(true);

    await approve(C, id, { reason: 'looks fine' }).expect(200);
    expect(await h.finished(A, id)).toMatchObject({ status: 'succeeded' });
    expect(await h.store.get(id)).toMatchObject({ decision: { outcome: 'approved', by: 'agent-c', reason: 'looks fine' } });

    const own = await held(C, { tool: 'demo.refund', input: { amount: 6001, note: 'own-approve' } });
    expect((await approve(C, own).expect(403)).body.code).toBe('FORBIDDEN');
    expect((await deny(C, own).expect(403)).body.code).toBe('FORBIDDEN');
    expect((await request(h.server).get(`/v1/jobs/${own}`).set(C).expect(200)).body.status).toBe('awaiting_approval');
    await request(h.server).delete(`/v1/jobs/${own}`).set(C).expect(200);
    expect(upstream.count((r) => r.body.includes('own-approve'))).toBe(0);
  });

  it('a job that is not held is 409; an unknown one 404', async () => {
    const done = await submit(A, { tool: 'demo.getContact', input: { id: 'not-held' } });
    await h.finished(A, done.id);
    expect((await approve(ADMIN, done.id).expect(409)).body).toMatchObject({ code: 'CONFLICT' });
    expect((await deny(ADMIN, done.id).expect(409)).body).toMatchObject({ code: 'CONFLICT' });
    expect((await approve(ADMIN, 'job_00000000000000000000000000000000').expect(404)).body.code).toBe('NOT_FOUND');
    await approve(ADMIN, 'nope').expect(404);
  });

  it('of a concurrent approve and deny exactly one wins, and the job ends as the winner said', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await held(A, { tool: 'demo.refund', input: { amount: 9100 + round, note: `race-${round}` } });
      const [approved, denied] = await Promise.all([approve(ADMIN, id), deny(C, id)]);
      expect([approved.status, denied.status].sort()).toEqual([200, 409]);
      const job = await h.finished(A, id);
      if (approved.status === 200) {
        expect(job.status).toBe('succeeded');
        expect(upstream.count((r) => r.body.includes(`race-${round}`))).toBe(1);
      } else {
        expect(job).toMatchObject({ status: 'failed', error: { code: 'APPROVAL_DENIED' } });
        expect(upstream.count((r) => r.body.includes(`race-${round}`))).toBe(0);
      }
    }
  });
});

describe('the approval_requested alert', () => {
  it('names the job, agent, tool and rule, and holds no input value', async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: MARKER, note: 'secret-note-xyz' } });
    const { raw, body } = await alertFor(id);
    expect(body.type).toBe('broker.alert.approval_requested');
    expect(body.data).toMatchObject({
      kind: 'approval_requested',
      cause: `approval_requested:${id}`,
      severity: 'warning',
      details: { jobId: id, agent: 'agent-a', tool: 'demo.refund', rule: { index: 0, tools: 'demo.refund' } },
    });
    expect(body.data.summary).toContain(id);
    expect(raw).not.toContain(String(MARKER));
    expect(raw).not.toContain('secret-note-xyz');
    await deny(ADMIN, id).expect(200);
  });
});

describe('OpenAPI', () => {
  it('documents the three routes with their schemas', async () => {
    const doc = (await request(h.server).get('/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.paths['/v1/approvals']?.get?.operationId).toBe('listApprovals');
    expect(doc.paths['/v1/jobs/{id}/approve']?.post?.operationId).toBe('approveJob');
    expect(doc.paths['/v1/jobs/{id}/deny']?.post?.operationId).toBe('denyJob');
    expect(Object.keys(doc.paths['/v1/jobs/{id}/approve']!.post!.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404', '409', '422']));
    expect(doc.components.schemas.ApprovalDecisionRequest).toMatchObject({ properties: { reason: { type: 'string', maxLength: 500 } }, additionalProperties: false });
    expect(doc.components.schemas.ApprovalList).toMatchObject({ required: ['jobs'] });
  });
});

describe('hostile decision bodies', () => {
  it('never answer 5xx, and a bad body is 422 with pointers before anything changes', async () => {
    const id = await held(A, { tool: 'demo.refund', input: { amount: 9999, note: 'fuzzed' } });
    const cases: Array<{ body: string; type?: string; status: number; pointer?: string }> = [
      { body: JSON.stringify({ reason: 'x'.repeat(501) }), status: 422, pointer: '/reason' },
      { body: JSON.stringify({ reason: 42 }), status: 422, pointer: '/reason' },
      { body: JSON.stringify({ reason: ['a'] }), status: 422, pointer: '/reason' },
      { body: JSON.stringify({ reason: null }), status: 422, pointer: '/reason' },
      { body: JSON.stringify({ reason: 'ok', approve: true }), status: 422, pointer: '/approve' },
      { body: JSON.stringify([]), status: 422 },
      { body: JSON.stringify('approve'), status: 422 },
      { body: 'null', status: 422 },
      { body: JSON.stringify({ __proto__: { reason: 'x' }, constructor: 1 }), status: 422 },
      { body: '{"reason":', status: 400 },
      { body: JSON.stringify({ reason: 'x'.repeat(2 * 1024 * 1024) }), status: 413 },
      { body: 'reason=x', type: 'application/x-www-form-urlencoded', status: 415 },
      { body: JSON.stringify({ reason: '\u0000\ud800 nul and lone surrogate' }), status: 200 },
    ];
    for (const [i, c] of cases.entries()) {
      const route = i === cases.length - 1 ? 'deny' : 'approve';
      const res = await request(h.server)
        .post(`/v1/jobs/${id}/${route}`)
        .set(ADMIN)
        .set('Content-Type', c.type ?? 'application/json')
        .send(c.body);
      expect({ i, status: res.status }).toEqual({ i, status: c.status });
      if (res.status >= 400) expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      if (c.pointer) expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: c.pointer })]));
      if (i < cases.length - 1) expect((await h.store.get(id))?.status).toBe('awaiting_approval');
    }
    for (const query of ['?limit=0', '?limit=501', '?limit=abc', '?limit=1&limit=2']) {
      expect((await request(h.server).get(`/v1/approvals${query}`).set(ADMIN)).status).toBe(422);
    }
    expect((await request(h.server).get('/v1/approvals?limit=1').set(ADMIN).expect(200)).body.jobs.length).toBeLessThanOrEqual(1);
    expect(upstream.count((r) => r.body.includes('fuzzed'))).toBe(0);
  });
});
