import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import request from 'supertest';
import { auditEntry, type AuditEntry } from '@broker/shared/audit/schema';
import { AuditTrail } from '@broker/redis/audit/audit-trail';
import { createMetrics } from '@broker/shared/metrics';
import { createRedis } from '@broker/redis/connection';
import { redisKeys } from '@broker/redis/keys';
import type { WorkerApp } from '@broker/worker';
import { startWorkerBeside, testLogger } from '../helpers/broker';
import { demoCreateOrderTool, demoGetContactTool, findableNoteTool } from '../helpers/demo-tools';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, startApi, testConfig, type Harness } from './harness';

/**
 * The audit trail (`GET /v1/audit`, docs/guardrails.md#audit-trail) against a real api + worker +
 * Redis and a counting stub upstream: each job's life in order, paging,
 * filters, who may read it, what it never holds, and its retention.
 */

const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;
const AUDITOR_KEY = `auditor-${randomBytes(8).toString('hex')}`;
/** A value planted in inputs: it must appear nowhere in the trail. */
const PLANTED = `planted-${randomBytes(8).toString('hex')}`;
/** A value every upstream answer carries (results, error bodies): it must appear nowhere in the trail. */
const RESULT_MARK = `result-${randomBytes(8).toString('hex')}`;

const ADMIN = bearer(ADMIN_TOKEN);
const AUDITOR = bearer(AUDITOR_KEY);
const A = bearer(KEYS.a);
const C = bearer(KEYS.c);

let upstream: StubServer;
let h: Harness;
let stopWorker: (() => Promise<void>) | undefined;
let worker: WorkerApp;
/** Scripted answers by path (used up first); anything else succeeds. */
const script = new Map<string, StubReply[]>();
const notesMade: { id: string; clientRef: string; text: string; mark: string }[] = [];

function answer(req: StubRequest): StubReply {
  const body = req.method === 'POST' ? (JSON.parse(req.body || '{}') as Record<string, unknown>) : {};
  if (req.path === '/notes' && typeof body.clientRef === 'string') {
    notesMade.push({ id: `note_${notesMade.length + 1}`, clientRef: body.clientRef, text: String(body.text), mark: RESULT_MARK });
  }
  const next = script.get(req.path)?.shift();
  if (next) return next;
  const ref = req.query.get('clientRef');
  if (req.method === 'GET' && ref) return { status: 200, body: { data: notesMade.filter((n) => n.clientRef === ref) } };
  if (req.method === 'POST') return { status: 201, body: { id: 'obj_1', ...body, mark: RESULT_MARK } };
  return { status: 200, body: { id: req.path.split('/').pop(), mark: RESULT_MARK } };
}

async function submit(key: Record<string, string>, body: Record<string, unknown>): Promise<string> {
  return (await request(h.server).post('/v1/jobs').set(key).send(body).expect(202)).body.id as string;
}

interface Page {
  entries: AuditEntry[];
  nextCursor: string | null;
}

async function page(query: Record<string, string | number>, auth = ADMIN): Promise<Page> {
  const res = await request(h.server)
    .get('/v1/audit')
    .query(query)
    .set(auth)
    .expect(200)
    .expect('Content-Type', /application\/json/);
  return res.body as Page;
}

/** Every entry matching the filters, newest first, following the cursor to the end. */
async function everything(query: Record<string, string | number> = {}, limit = 500): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  let cursor: string | null = null;
  do {
    const p: Page = await page({ ...query, limit, ...(cursor ? { cursor } : {}) });
    all.push(...p.entries);
    cursor = p.nextCursor;
  } while (cursor);
  return all;
}

/** One job's entries, oldest first, once its trail holds `last`. */
async function trailOf(jobId: string, last: AuditEntry['event']): Promise<AuditEntry[]> {
  return waitFor(
    async () => {
      const entries = (await everything()).filter((e) => e.jobId === jobId);
      return entries.some((e) => e.event === last) ? entries.reverse() : undefined;
    },
    { what: `the "${last}" entry of ${jobId}` },
  );
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const ALLOWED_FIELDS = new Set(['at', 'event', 'jobId', 'agent', 'tool', 'connection', 'by', 'status', 'code', 'inputSha256', 'durationMs', 'attempt']);

beforeAll(async () => {
  upstream = await StubServer.start(answer);
  const config = testConfig({
    agents: [
      { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'] },
      { id: 'agent-c', key: { secret: 'AGENT_C_KEY' }, scopes: ['tools:*'] },
      { id: 'auditor', key: { secret: 'AUDITOR_KEY' }, scopes: ['audit:read'] },
    ],
    admin: { token: { secret: 'ADMIN_TOKEN' } },
    // Large orders wait for an operator; very large ones expire within a second.
    approvals: [
      { tools: 'demo.createOrder', when: { pointer: '/input/qty', gte: 1000 }, timeoutSeconds: 1 },
      { tools: 'demo.createOrder', when: { pointer: '/input/qty', gt: 100 } },
    ],
    integrations: {
      demo: { baseUrl: upstream.url, retry: { attempts: 1 }, tools: [demoGetContactTool, demoCreateOrderTool] },
      flaky: {
        baseUrl: upstream.url,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        tools: [{ name: 'flaky.get', method: 'GET', path: '/flaky/{id}', input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }],
      },
      // No worker takes these: a job stays queued until it is cancelled.
      manual: { baseUrl: upstream.url, tools: [{ name: 'manual.get', method: 'GET', path: '/manual/{n}' }] },
      notes: { baseUrl: upstream.url, timeoutMs: 200, retry: { attempts: 1 }, tools: [findableNoteTool] },
    },
  });
  h = await startApi('audit', { config });
  h.env.ADMIN_TOKEN = ADMIN_TOKEN;
  h.env.AUDITOR_KEY = AUDITOR_KEY;
  ({ worker, close: stopWorker } = await startWorkerBeside(config, h, 'audit', ['manual']));
});

afterAll(async () => {
  await stopWorker?.();
  await h?.close();
  await upstream?.close();
});

describe("GET /v1/audit: a job's life", () => {
  it('records a succeeded job: submitted, call, succeeded, answered newest first', async () => {
    const input = { sku: PLANTED, qty: 1 };
    const id = await submit(A, { tool: 'demo.createOrder', input });
    expect((await h.finished(A, id)).status).toBe('succeeded');
    const trail = await trailOf(id, 'succeeded');

    expect(trail.map((e) => e.event)).toEqual(['submitted', 'call', 'succeeded']);
    const who = { jobId: id, agent: 'agent-a', tool: 'demo.createOrder', connection: 'default' };
    const [submitted, call, succeeded] = trail;
    // The digest of the input's canonical JSON (keys sorted), never the input.
    expect(submitted).toEqual({ at: expect.any(String), event: 'submitted', ...who, inputSha256: sha256(JSON.stringify({ qty: 1, sku: PLANTED })) });
    expect(call).toEqual({ at: expect.any(String), event: 'call', ...who, status: 201, durationMs: expect.any(Number), attempt: 1 });
    expect(succeeded).toEqual({ at: expect.any(String), event: 'succeeded', ...who });
    const times = trail.map((e) => Date.parse(e.at));
    expect([...times].sort((x, y) => x - y)).toEqual(times);

    // The answer itself is newest first.
    const answered = (await page({ limit: 500 })).entries.filter((e) => e.jobId === id).map((e) => e.event);
    expect(answered).toEqual(['succeeded', 'call', 'submitted']);
  });

  it('records a failed job: every call with its status and attempt, then failed with its code', async () => {
    script.set('/flaky/f1', [
      { status: 503, body: { error: RESULT_MARK } },
      { status: 503, body: { error: RESULT_MARK } },
    ]);
    const id = await submit(C, { tool: 'flaky.get', input: { id: 'f1' } });
    expect(await h.finished(C, id)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR' } });
    const trail = await trailOf(id, 'failed');

    expect(trail.map((e) => [e.event, e.status, e.attempt, e.code])).toEqual([
      ['submitted', undefined, undefined, undefined],
      ['call', 503, 1, undefined],
      ['call', 503, 2, undefined],
      ['failed', undefined, undefined, 'UPSTREAM_ERROR'],
    ]);
    expect(trail.every((e) => e.agent === 'agent-c' && e.tool === 'flaky.get' && e.connection === 'default')).toBe(true);
  });

  it('records a cancelled job, with who cancelled it', async () => {
    const id = await submit(C, { tool: 'manual.get', input: { n: '1' } });
    await request(h.server).delete(`/v1/jobs/${id}`).set(C).expect(200);
    const trail = await trailOf(id, 'cancelled');
    expect(trail.map((e) => e.event)).toEqual(['submitted', 'cancelled']);
    expect(trail[1]).toMatchObject({ jobId: id, agent: 'agent-c', tool: 'manual.get', by: 'agent-c' });
  });

  it('records a retried job: its first run, the retry (with the failure it retried), and its second run', async () => {
    script.set('/flaky/f2', [{ status: 503 }, { status: 503 }]);
    const id = await submit(C, { tool: 'flaky.get', input: { id: 'f2' } });
    expect((await h.finished(C, id)).status).toBe('failed');
    await request(h.server).post(`/v1/jobs/${id}/retry`).set(C).expect(202);
    expect(await h.finished(C, id)).toMatchObject({ status: 'succeeded', attempts: 3 });
    const trail = await trailOf(id, 'succeeded');

    expect(trail.map((e) => [e.event, e.status ?? e.code ?? e.by, e.attempt])).toEqual([
      ['submitted', undefined, undefined],
      ['call', 503, 1],
      ['call', 503, 2],
      ['failed', 'UPSTREAM_ERROR', undefined],
      ['retried', 'UPSTREAM_ERROR', undefined],
      ['call', 200, 3],
      ['succeeded', undefined, undefined],
    ]);
    expect(trail[4]).toMatchObject({ by: 'agent-c', code: 'UPSTREAM_ERROR' });
  });

  it('records the lookup of an unkeyed write that may have been applied: its call, then verified (found)', async () => {
    // The note is made, then the connection drops: the look-only run finds it by its reference.
    script.set('/notes', [{ destroy: true }]);
    const id = await submit(C, { tool: 'notes.log', input: { text: PLANTED } });
    expect((await h.finished(C, id)).status).toBe('succeeded');
    const trail = await trailOf(id, 'succeeded');

    expect(trail.map((e) => e.event)).toEqual(['submitted', 'call', 'call', 'verified', 'succeeded']);
    const [, dropped, lookup, verified] = trail;
    // No answer came: the network failure stands in the status.
    expect(dropped).toMatchObject({ attempt: 1, status: expect.stringMatching(/^E/) });
    expect(lookup).toMatchObject({ attempt: 1, status: 200 });
    expect(verified).toMatchObject({ attempt: 1, status: 'found' });
  });
});

describe('GET /v1/audit: approval holds', () => {
  it('records a held job approved by an operator: submitted, held, approved (by), call, succeeded', async () => {
    const res = await request(h.server)
      .post('/v1/jobs')
      .set(A)
      .send({ tool: 'demo.createOrder', input: { sku: 'sku_big', qty: 500 } })
      .expect(202);
    expect(res.body.status).toBe('awaiting_approval');
    const id = res.body.id as string;
    await request(h.server).post(`/v1/jobs/${id}/approve`).set(ADMIN).send({ reason: 'ok' }).expect(200);
    expect((await h.finished(A, id)).status).toBe('succeeded');
    const trail = await trailOf(id, 'succeeded');
    expect(trail.map((e) => [e.event, e.by ?? e.status])).toEqual([
      ['submitted', undefined],
      ['held', undefined],
      ['approved', 'admin'],
      ['call', 201],
      ['succeeded', undefined],
    ]);
  });

  it('records a hold nobody decided: submitted, held, then failed APPROVAL_EXPIRED', async () => {
    const id = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku_huge', qty: 5000 } });
    expect(await h.finished(A, id)).toMatchObject({ status: 'failed', error: { code: 'APPROVAL_EXPIRED' } });
    const trail = await trailOf(id, 'failed');
    expect(trail.map((e) => [e.event, e.code])).toEqual([
      ['submitted', undefined],
      ['held', undefined],
      ['failed', 'APPROVAL_EXPIRED'],
    ]);
  });
});

describe('GET /v1/audit: paging and filters', () => {
  beforeAll(async () => {
    // Another agent's jobs, so the filters have something to leave out.
    for (const n of ['1', '2', '3']) {
      const id = await submit(A, { tool: 'demo.getContact', input: { id: `${PLANTED}-${n}` } });
      await h.finished(A, id);
      await trailOf(id, 'succeeded');
    }
  });

  it('pages with limit and cursor over every entry exactly once, newest first', async () => {
    const all = (await page({ limit: 500 })).entries;
    expect(all.length).toBeGreaterThan(20);
    for (const limit of [1, 3, 7]) {
      const paged = await everything({}, limit);
      expect(paged).toEqual(all);
    }
    // The last page says there is no more.
    const last = await page({ limit: all.length });
    expect(last.entries).toEqual(all);
    expect(last.nextCursor).toBeNull();
    // The default page is 100.
    expect((await page({})).entries).toEqual(all.slice(0, 100));
  });

  it('pages a filtered listing exactly once too', async () => {
    const all = (await page({ limit: 500 })).entries;
    expect(await everything({ agent: 'agent-c' }, 2)).toEqual(all.filter((e) => e.agent === 'agent-c'));
  });

  it('filters by agent (exact), tool (exact or glob) and since', async () => {
    const all = (await page({ limit: 500 })).entries;
    const a = await everything({ agent: 'agent-a' });
    expect(a.length).toBeGreaterThan(0);
    expect(a).toEqual(all.filter((e) => e.agent === 'agent-a'));
    expect(await everything({ agent: 'agent' })).toEqual([]);

    const exact = await everything({ tool: 'flaky.get' });
    expect(exact.length).toBeGreaterThan(0);
    expect(exact).toEqual(all.filter((e) => e.tool === 'flaky.get'));
    expect(await everything({ tool: 'demo.*' })).toEqual(all.filter((e) => e.tool.startsWith('demo.')));
    expect(await everything({ tool: '*.get' })).toEqual(all.filter((e) => e.tool.endsWith('.get')));
    expect(await everything({ tool: 'demo' })).toEqual([]);
    expect(await everything({ agent: 'agent-c', tool: 'flaky.*' })).toEqual(all.filter((e) => e.agent === 'agent-c' && e.tool === 'flaky.get'));

    const middle = all[Math.floor(all.length / 2)]!.at;
    const since = await everything({ since: middle });
    expect(since.length).toBeGreaterThan(0);
    expect(since).toEqual(all.filter((e) => Date.parse(e.at) >= Date.parse(middle)));
    expect(await everything({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await everything({ since: '2000-01-01T00:00:00Z' })).toEqual(all);
  });
});

describe('GET /v1/audit: what the trail never holds', () => {
  it('has no input, result or error body in any entry, nor anywhere in the raw stream', async () => {
    const all = await everything();
    expect(all.length).toBeGreaterThan(0);
    for (const entry of all) expect(Object.keys(entry).filter((k) => !ALLOWED_FIELDS.has(k))).toEqual([]);
    const answered = JSON.stringify(all);
    expect(answered).not.toContain(PLANTED);
    expect(answered).not.toContain(RESULT_MARK);
    expect(answered).not.toContain('/contacts/');

    // The stream itself, every field of every entry.
    const raw = JSON.stringify(await h.redis.xrange(redisKeys(h.prefix).auditTrail, '-', '+'));
    expect(raw.length).toBeGreaterThan(1000);
    expect(raw).not.toContain(PLANTED);
    expect(raw).not.toContain(RESULT_MARK);
    // The jobs that carried them did run (so the check means something).
    expect(upstream.requests.some((r) => r.body.includes(PLANTED) || r.path.includes(PLANTED))).toBe(true);
  });
});

describe('GET /v1/audit: who may read it', () => {
  it('answers 401 without a credential, 403 for an agent key without audit:read, 200 for the admin token and the scope', async () => {
    const none = await request(h.server)
      .get('/v1/audit')
      .expect(401)
      .expect('Content-Type', /application\/problem\+json/);
    expect(none.body.code).toBe('UNAUTHENTICATED');
    await request(h.server).get('/v1/audit').set(bearer('not-a-key')).expect(401);
    const forbidden = await request(h.server)
      .get('/v1/audit')
      .set(A)
      .expect(403)
      .expect('Content-Type', /application\/problem\+json/);
    expect(forbidden.body).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    await request(h.server).get('/v1/audit').set(C).expect(403);
    const admin = await page({ limit: 5 }, ADMIN);
    const scoped = await page({ limit: 5 }, AUDITOR);
    expect(admin.entries).toHaveLength(5);
    expect(scoped).toEqual(admin);
    await request(h.server).post('/v1/audit').set(ADMIN).expect(405);
  });
});

describe('GET /v1/audit: bad query values', () => {
  const expectProblem = async (query: string) => {
    const res = await request(h.server).get(`/v1/audit?${query}`).set(ADMIN);
    expect({ query, status: res.status }).toEqual({ query, status: 422 });
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', status: 422 });
    return res.body as { errors: { pointer: string }[] };
  };

  it('answers 422 problem+json naming the parameter', async () => {
    expect((await expectProblem('limit=0')).errors[0]!.pointer).toBe('/limit');
    for (const q of [
      'limit=501',
      'limit=-1',
      'limit=1.5',
      'limit=abc',
      'limit=',
      'limit=1&limit=2',
      'since=yesterday',
      'since=2024-13-45',
      'since=',
      'cursor=',
      'cursor=abc',
      'cursor=%00',
      `cursor=${Buffer.from('1-2-3').toString('base64url')}`,
      'agent=',
      'agent=a%20b',
      `agent=${'a'.repeat(65)}`,
      'agent=a&agent=b',
      'tool=',
      'tool=a/b',
      'tool=x&tool=y',
    ]) {
      await expectProblem(q);
    }
    expect((await expectProblem(`cursor=${'A'.repeat(2000)}`)).errors[0]!.pointer).toBe('/cursor');
  });

  it('names a parameter it does not know, rather than answering unfiltered', async () => {
    const { errors } = (await expectProblem('jobId=job_1&agent=agent-a&Tool=x')) as { errors: { pointer: string; message: string }[] };
    expect(errors).toEqual([
      { pointer: '/jobId', message: 'is not a known parameter' },
      { pointer: '/Tool', message: 'is not a known parameter' },
    ]);
  });

  it('never answers 5xx to random query values (fuzzed)', async () => {
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer().map(String), fc.base64String({ maxLength: 40 }));
    const queries = fc.sample(fc.dictionary(fc.constantFrom('agent', 'tool', 'since', 'limit', 'cursor', 'other'), value, { maxKeys: 4 }), { numRuns: 120, seed: 42 });
    for (const query of queries) {
      const res = await request(h.server).get('/v1/audit').query(query).set(ADMIN);
      expect({ query, status: res.status < 500 }).toEqual({ query, status: true });
      if (res.status !== 200) {
        expect(res.status).toBe(422);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    }
  });
});

describe('the audit trail itself', () => {
  const DAY = 24 * 3600 * 1000;
  let prefix: string;
  let redis: Redis;

  beforeEach(() => {
    prefix = uniquePrefix('audit-trail');
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    redis.disconnect();
    await dropPrefix(prefix);
  });

  const entry = (n: number, at = new Date()) => auditEntry('submitted', { jobId: `job_${n}`, agent: 'agent-a', tool: 'demo.getContact', connection: 'default' }, {}, at);

  it('drops entries older than the retention: writes trim whole nodes, trim() the rest, reads never show them', async () => {
    const keys = redisKeys(prefix);
    const old = Date.now() - 3 * DAY;
    // 250 entries from three days ago (explicit ids, as if written then): three stream nodes of 100.
    for (let i = 0; i < 250; i++) await redis.xadd(keys.auditTrail, `${old}-${i}`, 'e', JSON.stringify(entry(i, new Date(old))));
    const trail = new AuditTrail(redis, keys, { retentionDays: 1 });

    expect(await trail.append(entry(1000))).toBe(true);
    // The write trimmed every stream node holding only old entries (a node holds at most 100); the last may also hold the new one.
    const left = await redis.xlen(keys.auditTrail);
    expect(left).toBeGreaterThanOrEqual(1);
    expect(left).toBeLessThanOrEqual(101);
    // What is left over is out of range for readers already.
    expect((await trail.read({ limit: 500 })).entries.map((e) => e.jobId)).toEqual(['job_1000']);
    expect(await trail.trim()).toBe(left - 1);
    expect(await redis.xlen(keys.auditTrail)).toBe(1);

    // trim() takes "now": two days on, the new entry is out too.
    expect(await trail.trim(Date.now() + 2 * DAY)).toBe(1);
    expect(await redis.xlen(keys.auditTrail)).toBe(0);
  });

  it('appends several entries in one command, in order', async () => {
    const keys = redisKeys(prefix);
    const trail = new AuditTrail(redis, keys, { retentionDays: 90 });
    expect(await trail.append([entry(1), entry(2), entry(3)])).toBe(true);
    expect(await trail.append([])).toBe(true);
    expect((await trail.read({ limit: 10 })).entries.map((e) => e.jobId)).toEqual(['job_3', 'job_2', 'job_1']);
  });

  it('bounds the scan of a filtered read: a short page with a cursor, and paging still finds everything', async () => {
    const keys = redisKeys(prefix);
    const trail = new AuditTrail(redis, keys, { retentionDays: 90, scanBudget: 10 });
    const rare = (n: number) => auditEntry('submitted', { jobId: `job_r${n}`, agent: 'rare', tool: 't', connection: 'default' });
    await trail.append([rare(1), ...Array.from({ length: 25 }, (_, i) => entry(i)), rare(2)]);

    const first = await trail.read({ agent: 'rare', limit: 5 });
    expect(first.entries.map((e) => e.jobId)).toEqual(['job_r2']);
    expect(first.next).toBeDefined();
    const found = [...first.entries];
    for (let next = first.next; next !== undefined;) {
      const p = await trail.read({ agent: 'rare', limit: 5, after: next });
      found.push(...p.entries);
      next = p.next;
    }
    expect(found.map((e) => e.jobId)).toEqual(['job_r2', 'job_r1']);
  });

  it('never throws when a write fails: it resolves false, and counts and logs the lost entries', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'producer');
    dead.on('error', () => undefined);
    const metrics = createMetrics({ defaultMetrics: false });
    const trail = new AuditTrail(dead, redisKeys(prefix), { retentionDays: 90, metrics, logger: testLogger('audit-dead') });
    try {
      expect(await trail.append(entry(1))).toBe(false);
      expect(await trail.append([entry(2), entry(3)])).toBe(false);
      expect((await metrics.auditWriteFailures.get()).values).toEqual([{ labels: { event: 'submitted' }, value: 3 }]);
    } finally {
      dead.disconnect();
    }
  });

  it('never fails a job: with the stream unwritable, jobs still run and end, and the lost entries are counted', async () => {
    const key = redisKeys(h.prefix).auditTrail;
    const saved = `${key}:saved`;
    await h.redis.rename(key, saved);
    // A string where the stream should be: every XADD answers WRONGTYPE.
    await h.redis.set(key, 'not a stream');
    try {
      const before = (await worker.metrics.auditWriteFailures.get()).values.reduce((n, v) => n + v.value, 0);
      const id = await submit(A, { tool: 'demo.getContact', input: { id: 'c_unaudited' } });
      expect(await h.finished(A, id)).toMatchObject({ status: 'succeeded', result: { id: 'c_unaudited' } });
      await waitFor(async () => (await worker.metrics.auditWriteFailures.get()).values.reduce((n, v) => n + v.value, 0) >= before + 2, {
        what: 'the worker to count its lost entries',
      });
      await waitFor(async () => (await h.api.metrics.auditWriteFailures.get()).values.some((v) => v.labels.event === 'submitted' && v.value >= 1), {
        what: 'the api to count its lost entry',
      });
    } finally {
      await h.redis.del(key);
      await h.redis.rename(saved, key);
    }
  });
});
