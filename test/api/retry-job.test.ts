import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { bullPrefix, CALLBACKS_QUEUE, integrationQueueName } from '@broker/shared/queues';
import { callbackJobId } from '@broker/shared/jobs/callback-job';
import { newJobId, type PublicJob } from '@broker/shared/jobs/schema';
import { redisKeys } from '@broker/redis/keys';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { JobError } from '@broker/shared/jobs/schema';
import { startWorkerBeside } from '../helpers/broker';
import { demoCreateOrderTool, demoGetContactTool, findableNoteTool } from '../helpers/demo-tools';
import { REDIS_URL } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, startApi, testConfig, type Harness } from './harness';

/**
 * `POST /v1/jobs/{id}/retry` (docs/api.md#retrying-a-failed-job) against a real api + worker + Redis
 * and a stub upstream whose answers each test scripts by path: a failed job
 * whose error is retryable (or OUTCOME_UNKNOWN) runs again as the same job,
 * with the same upstream Idempotency-Key; anything else is 409, another
 * agent's job 404; two racing retries make one re-run.
 */

let upstream: StubServer;
let receiver: StubServer;
let h: Harness;
let stopWorker: (() => Promise<void>) | undefined;
let flakyQueue: Queue;
let callbacks: Queue;
/** The `manual` integration's jobs are taken by hand (BullMQ's manual processing), to hold one active. */
let manualRedis: Redis;
let manual: Worker;
/** Scripted answers by path (the first entry is used up first); anything else answers 201/200. */
const script = new Map<string, StubReply[]>();

const noteTool = {
  name: 'demo.logNote',
  method: 'POST',
  path: '/notes',
  // A write without an upstream idempotency key: a connection dropped after sending is OUTCOME_UNKNOWN.
  input: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
} as const;

/** Notes the stub made with a `clientRef`, even when it then dropped the connection. */
const notesMade: { id: string; clientRef: string; text: string }[] = [];

/** A GET by its path; a POST by its path and the order's sku or the note's text. */
function scriptKey(req: StubRequest): string {
  if (req.method !== 'POST') return req.path;
  const body = JSON.parse(req.body || '{}') as { sku?: string; text?: string };
  return `${req.path}:${body.sku ?? body.text ?? ''}`;
}

function answer(req: StubRequest): StubReply {
  const key = scriptKey(req);
  const body = req.method === 'POST' ? (JSON.parse(req.body || '{}') as { clientRef?: string; text?: string }) : {};
  if (body.clientRef) notesMade.push({ id: `note_${notesMade.length + 1}`, clientRef: body.clientRef, text: body.text ?? '' });
  const next = script.get(key)?.shift();
  if (next) return next;
  const ref = req.query.get('clientRef');
  if (req.method === 'GET' && ref) return { status: 200, body: { data: notesMade.filter((n) => n.clientRef === ref) } };
  if (req.method === 'POST') return { status: 201, body: { id: `obj_${key}`, ...(JSON.parse(req.body || '{}') as object) } };
  return { status: 200, body: { id: req.path.split('/').pop() } };
}

const A = bearer(KEYS.a);
const C = bearer(KEYS.c);

async function submit(key: Record<string, string>, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(h.server).post('/v1/jobs').set(key).set(headers).send(body).expect(202);
  return res.body.id as string;
}

const retry = (key: Record<string, string>, id: string) => request(h.server).post(`/v1/jobs/${id}/retry`).set(key);

beforeAll(async () => {
  upstream = await StubServer.start(answer);
  receiver = await StubServer.start(() => ({ status: 204 }));
  const config = testConfig({
    integrations: {
      demo: {
        baseUrl: upstream.url,
        retry: { attempts: 1 },
        tools: [demoGetContactTool, demoCreateOrderTool, noteTool],
      },
      // Two tries per run, to see that a retried job gets a fresh set.
      flaky: {
        baseUrl: upstream.url,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        tools: [{ name: 'flaky.get', method: 'GET', path: '/flaky/{id}', input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }],
      },
      manual: { baseUrl: upstream.url, retry: { attempts: 1 }, tools: [{ name: 'manual.get', method: 'GET', path: '/manual/{id}' }] },
      // A short timeout: the lookup of a try that may have applied a note waits that long.
      notes: { baseUrl: upstream.url, timeoutMs: 200, retry: { attempts: 1 }, tools: [findableNoteTool] },
    },
    callbacks: { secret: 'CALLBACK_SECRET', allowHosts: [new URL(receiver.url).host] },
  });
  h = await startApi('retry', { config });
  h.env.CALLBACK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
  // The worker runs every integration but `manual`.
  ({ close: stopWorker } = await startWorkerBeside(config, h, 'retry', ['manual']));
  manualRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  manual = new Worker(integrationQueueName('manual'), null, { connection: manualRedis, prefix: bullPrefix(h.prefix, integrationQueueName('manual')) });
  flakyQueue = new Queue(integrationQueueName('flaky'), { connection: h.redis, prefix: bullPrefix(h.prefix, integrationQueueName('flaky')) });
  callbacks = new Queue(CALLBACKS_QUEUE, { connection: h.redis, prefix: bullPrefix(h.prefix, CALLBACKS_QUEUE) });
});

afterAll(async () => {
  await manual?.close(true);
  manualRedis?.disconnect();
  await stopWorker?.();
  await flakyQueue?.close();
  await callbacks?.close();
  await h?.close();
  await Promise.all([upstream?.close(), receiver?.close()]);
});

describe('POST /v1/jobs/{id}/retry', () => {
  it('runs a retryable failed job again as the same job, with the same upstream Idempotency-Key, and it succeeds', async () => {
    script.set('/orders:sku_retry', [{ status: 503, body: { error: 'busy' } }]);
    const id = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku_retry', qty: 1 } }, { 'Idempotency-Key': 'order-retry-1' });
    const failed = await h.finished(A, id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR', retryable: true, upstreamStatus: 503 } });

    // A replay of the submission answers the same failed job; it does not run it again.
    const replay = await request(h.server)
      .post('/v1/jobs')
      .set(A)
      .set('Idempotency-Key', 'order-retry-1')
      .send({ tool: 'demo.createOrder', input: { sku: 'sku_retry', qty: 1 } })
      .expect(200);
    expect(replay.body).toMatchObject({ id, status: 'failed' });

    // Retried at once, while the worker may still be moving its BullMQ job to the failed set.
    const res = await retry(A, id).expect(202);
    expect(res.headers.location).toBe(`/v1/jobs/${id}`);
    expect(res.body).toMatchObject({ id, tool: 'demo.createOrder', status: 'queued', attempts: 1 });
    expect(res.body.error).toBeUndefined();
    expect(res.body.finishedAt).toBeUndefined();

    const done = await h.finished(A, id);
    expect(done).toMatchObject({ id, status: 'succeeded', attempts: 2, result: { sku: 'sku_retry' } });
    expect(done.error).toBeUndefined();
    const calls = upstream.requests.filter((r) => r.path === '/orders' && r.body.includes('sku_retry'));
    expect(calls).toHaveLength(2);
    expect(calls.map((r) => r.headers['idempotency-key'])).toEqual([id, id]);

    const record = await h.store.get(id);
    expect(record).toMatchObject({ retries: 1, retriedAt: expect.any(String) });
    // Finished again: the record expires again like any finished job.
    const key = redisKeys(h.prefix).job(id);
    expect(await h.redis.ttl(key)).toBeGreaterThan(0);
    expect((await h.queue.getJob(id))?.data).toMatchObject({ retriedByAgent: true });

    const again = await request(h.server)
      .post('/v1/jobs')
      .set(A)
      .set('Idempotency-Key', 'order-retry-1')
      .send({ tool: 'demo.createOrder', input: { sku: 'sku_retry', qty: 1 } })
      .expect(200);
    expect(again.body).toMatchObject({ id, status: 'succeeded' });
  });

  it('gives the re-run a fresh set of retry.attempts tries, while attempts keeps counting', async () => {
    script.set('/flaky/f1', [{ status: 503 }, { status: 503 }, { status: 503 }]);
    const id = await submit(C, { tool: 'flaky.get', input: { id: 'f1' } });
    expect(await h.finished(C, id)).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'UPSTREAM_ERROR', retryable: true } });
    await waitFor(async () => (await flakyQueue.getJobState(id)) === 'failed', { what: 'the BullMQ job in the failed set' });

    await retry(C, id).expect(202);
    // Try 3 fails (503), try 4 succeeds: the re-run had two tries of its own.
    expect(await h.finished(C, id)).toMatchObject({ status: 'succeeded', attempts: 4 });
    expect(upstream.count((r) => r.path === '/flaky/f1')).toBe(4);
  });

  it('accepts the retry of an OUTCOME_UNKNOWN write without a key, but never resends it blindly', async () => {
    script.set('/notes:note-1', [{ destroy: true }]);
    const id = await submit(A, { tool: 'demo.logNote', input: { text: 'note-1' } });
    expect(await h.finished(A, id)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });

    await retry(A, id).expect(202);
    // No tool can look the effect up yet (no verify): the re-run ends OUTCOME_UNKNOWN again, with no second call.
    const again = await h.finished(A, id);
    expect(again).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(again.error?.message).toMatch(/not sent again/);
    const calls = upstream.requests.filter((r) => r.path === '/notes' && r.body.includes('note-1'));
    expect(calls).toHaveLength(1);
  });

  it('looks an unkeyed write up by its reference before it runs again: found, the retried job succeeds with it; one POST', async () => {
    // Made, then the connection dropped; the lookup after it cannot tell (500): OUTCOME_UNKNOWN.
    script.set('/notes:note-2', [{ destroy: true }]);
    script.set('/notes', [{ status: 500 }]);
    const id = await submit(C, { tool: 'notes.log', input: { text: 'note-2' } });
    const unknown = await h.finished(C, id);
    expect(unknown).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(unknown.error?.message).toMatch(/could not tell/);

    await retry(C, id).expect(202);
    const note = notesMade.find((n) => n.clientRef === id)!;
    expect(await h.finished(C, id)).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: note.id, clientRef: id, text: 'note-2' } });
    expect(upstream.requests.filter((r) => r.method === 'POST' && r.path === '/notes' && r.body.includes(id))).toHaveLength(1);
    expect(upstream.requests.filter((r) => r.method === 'GET' && r.query.get('clientRef') === id)).toHaveLength(2);
  });

  it("answers 404 for another agent's job and for an unknown id, and leaves the job as it was", async () => {
    script.set('/flaky/f-theirs', [{ status: 503 }, { status: 503 }]);
    const id = await submit(C, { tool: 'flaky.get', input: { id: 'f-theirs' } });
    const failed = await h.finished(C, id);

    const theirs = await retry(A, id)
      .expect(404)
      .expect('Content-Type', /application\/problem\+json/);
    const unknown = await retry(A, 'job_00000000000000000000000000000000').expect(404);
    expect(theirs.body).toEqual(unknown.body);
    expect(theirs.body.code).toBe('NOT_FOUND');
    await retry(A, 'not-a-job').expect(404);
    expect((await request(h.server).get(`/v1/jobs/${id}`).set(C).expect(200)).body).toEqual(failed);
  });

  it('answers 409 for a succeeded job and for a failure that is not retryable, and leaves them as they were', async () => {
    const ok = await submit(A, { tool: 'demo.getContact', input: { id: 'c_ok' } });
    const succeeded = await h.finished(A, ok);
    expect(succeeded.status).toBe('succeeded');
    const conflict = await retry(A, ok)
      .expect(409)
      .expect('Content-Type', /application\/problem\+json/);
    expect(conflict.body).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(conflict.body.detail).toContain('succeeded');

    script.set('/contacts/c_bad', [{ status: 400, body: { error: 'bad id' } }]);
    const bad = await submit(A, { tool: 'demo.getContact', input: { id: 'c_bad' } });
    const failed = await h.finished(A, bad);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR', retryable: false } });
    const refused = await retry(A, bad).expect(409);
    expect(refused.body).toMatchObject({ code: 'CONFLICT' });
    expect(refused.body.detail).toContain('VALIDATION_ERROR');

    expect((await request(h.server).get(`/v1/jobs/${ok}`).set(A).expect(200)).body).toEqual(succeeded);
    expect((await request(h.server).get(`/v1/jobs/${bad}`).set(A).expect(200)).body).toEqual(failed);
    expect(upstream.count((r) => r.path === '/contacts/c_bad')).toBe(1);
  });

  it('answers 409 for a queued and a cancelled job', async () => {
    await h.queue.pause();
    try {
      const id = await submit(A, { tool: 'demo.getContact', input: { id: 'c_queued' } });
      expect((await retry(A, id).expect(409)).body.detail).toContain('queued');
      await request(h.server).delete(`/v1/jobs/${id}`).set(A).expect(200);
      expect((await retry(A, id).expect(409)).body.detail).toContain('cancelled');
    } finally {
      await h.queue.resume();
    }
  });

  it('lets exactly one of two concurrent retries through, and runs the job once more', async () => {
    script.set('/orders:sku_race', [{ status: 503 }]);
    const id = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku_race', qty: 1 } });
    expect((await h.finished(A, id)).status).toBe('failed');

    const answers = await Promise.all([retry(A, id), retry(A, id), retry(A, id)]);
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409, 409]);
    expect(await h.finished(A, id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(upstream.count((r) => r.path === '/orders' && r.body.includes('sku_race'))).toBe(2);
    expect((await h.store.get(id))?.retries).toBe(1);
  });

  it('puts the job back as it was when its BullMQ job is gone (the input went with it): 409', async () => {
    script.set('/orders:sku_gone', [{ status: 503 }]);
    const id = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku_gone', qty: 1 } });
    const failed = await h.finished(A, id);
    await waitFor(async () => (await h.queue.getJobState(id)) === 'failed', { what: 'the BullMQ job in the failed set' });
    await h.queue.remove(id);
    const key = redisKeys(h.prefix).job(id);
    const ttlBefore = await h.redis.ttl(key);

    const res = await retry(A, id).expect(409);
    expect(res.body.detail).toContain('no longer kept');
    expect((await request(h.server).get(`/v1/jobs/${id}`).set(A).expect(200)).body).toEqual(failed);
    expect(await h.redis.ttl(key)).toBeGreaterThan(ttlBefore - 5);
    expect((await h.store.get(id))?.retries).toBeUndefined();
  });

  it('sends the re-run its own completion callback', async () => {
    script.set('/orders:sku_cb', [{ status: 503 }]);
    const id = await submit(A, { tool: 'demo.createOrder', input: { sku: 'sku_cb', qty: 1 }, callbackUrl: `${receiver.url}/done` });
    expect((await h.finished(A, id)).status).toBe('failed');
    const delivered = () => receiver.requests.filter((r) => r.body.includes(id)).map((r) => (JSON.parse(r.body) as PublicJob).status);
    await waitFor(() => delivered().length === 1, { what: "the failed job's callback" });
    await waitFor(async () => (await callbacks.getJobState(callbackJobId(id))) === 'completed', { what: 'the first delivery to complete' });

    await retry(A, id).expect(202);
    expect((await h.finished(A, id)).status).toBe('succeeded');
    await waitFor(() => delivered().length === 2, { what: "the re-run's callback" });
    expect(delivered()).toEqual(['failed', 'succeeded']);
    // Each run's end is a delivery of its own: its own BullMQ job, webhook-id and Idempotency-Key.
    expect(await callbacks.getJobState(callbackJobId(id))).toBe('completed');
    expect(await callbacks.getJobState(callbackJobId(id, 1))).toBe('completed');
    const ids = receiver.requests.filter((r) => r.body.includes(id)).map((r) => [r.headers['webhook-id'], r.headers['idempotency-key']]);
    expect(ids).toEqual([
      [`msg_${id}`, `msg_${id}`],
      [`msg_${id}_r1`, `msg_${id}_r1`],
    ]);
  });

  describe('while the worker that failed the job still holds its BullMQ job', () => {
    /** A manual.get job taken by hand and failed in its record (retryable), its BullMQ job left active, as a worker does for a moment. */
    async function failedButActive(n: string): Promise<{ id: string; job: Job; token: string }> {
      const id = await submit(C, { tool: 'manual.get', input: { n } });
      const token = `token-${n}`;
      const job = (await manual.getNextJob(token))!;
      expect(job.id).toBe(id);
      await h.store.claimTry(id);
      await h.store.fail(id, { code: 'UPSTREAM_ERROR', message: 'upstream answered 502', retryable: true, upstreamStatus: 502 });
      return { id, job, token };
    }

    it('waits for it to reach the failed set, then moves it back to wait', async () => {
      const { id, job, token } = await failedButActive('settle');
      const answer = retry(C, id).then((res) => res);
      await waitFor(async () => (await h.store.get(id))?.status === 'queued', { what: 'the record to be queued by the retry' });
      expect(await job.getState()).toBe('active');
      await job.moveToFailed(new Error('UPSTREAM_ERROR: upstream answered 502'), token);

      const res = await answer;
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id, status: 'queued', attempts: 1 });
      const requeued = (await manual.getNextJob('token-again'))!;
      expect(requeued.id).toBe(id);
      expect(requeued.attemptsMade).toBe(0);
      expect(requeued.data).toMatchObject({ tool: 'manual.get', retriedByAgent: true });
      await requeued.moveToCompleted({ status: 'succeeded' }, 'token-again', false);
    });

    it('gives up after a while: 409 with Retry-After, the job failed as it was', async () => {
      const { id, job, token } = await failedButActive('stuck');
      const before = (await request(h.server).get(`/v1/jobs/${id}`).set(C).expect(200)).body as PublicJob;
      const started = Date.now();
      const res = await retry(C, id).expect(409);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body.detail).toContain('retry in a moment');
      expect((await request(h.server).get(`/v1/jobs/${id}`).set(C).expect(200)).body).toEqual(before);

      await job.moveToFailed(new Error('UPSTREAM_ERROR'), token);
      await retry(C, id).expect(202);
    });
  });
});

describe('JobStore.retry / undoRetry (the record alone)', () => {
  const record = (): JobRecord => ({
    id: newJobId(randomBytes(16).toString('hex')),
    tool: 'demo.getContact',
    status: 'queued',
    attempts: 0,
    createdAt: new Date().toISOString(),
    agentId: 'agent-a',
    integration: 'demo',
    connection: 'default',
  });

  it("answers 403 when the agent may no longer call the job's tool (scopes narrowed since), and leaves the job failed", async () => {
    // agent-b's scopes allow demo.get* only: a failed demo.logNote of its own must not run again.
    const r = { ...record(), tool: 'demo.logNote', agentId: 'agent-b' };
    await h.store.create(r);
    await h.store.claimTry(r.id);
    await h.store.fail(r.id, { code: 'UPSTREAM_ERROR', message: 'x', retryable: true });
    const res = await retry(bearer(KEYS.bNew), r.id).expect(403);
    expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
    expect((await h.store.get(r.id))?.status).toBe('failed');
  });

  it("reads and cancels a job of a tool the agent's scopes no longer allow as not found, as another agent's job", async () => {
    const r = { ...record(), tool: 'demo.logNote', agentId: 'agent-b' };
    await h.store.create(r);
    const res = await request(h.server).get(`/v1/jobs/${r.id}`).set(bearer(KEYS.bNew)).expect(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
    expect((await request(h.server).delete(`/v1/jobs/${r.id}`).set(bearer(KEYS.bNew)).expect(404)).body).toMatchObject({ code: 'NOT_FOUND' });
    expect((await h.store.get(r.id))?.status).toBe('queued');
    // A job of a tool still in scope reads as before.
    const allowed = { ...record(), tool: 'demo.getContact', agentId: 'agent-b' };
    await h.store.create(allowed);
    expect((await request(h.server).get(`/v1/jobs/${allowed.id}`).set(bearer(KEYS.bNew)).expect(200)).body).toMatchObject({ id: allowed.id });
  });

  it('refuses a failed record whose error is missing or unreadable, and any other agent', async () => {
    const r = record();
    await h.store.create(r);
    await h.store.claimTry(r.id);
    await h.store.fail(r.id, { code: 'UPSTREAM_ERROR', message: 'x', retryable: true });
    expect(await h.store.retry(r.id, 'agent-c')).toEqual({ kind: 'missing' });
    const key = redisKeys(h.prefix).job(r.id);
    await h.redis.hset(key, 'error', 'not json');
    expect(await h.store.retry(r.id, 'agent-a')).toEqual({ kind: 'conflict', status: 'failed' });
    await h.redis.hdel(key, 'error');
    expect(await h.store.retry(r.id, 'agent-a')).toEqual({ kind: 'conflict', status: 'failed' });
    expect(await h.store.retry(newJobId(randomBytes(16).toString('hex')), 'agent-a')).toEqual({ kind: 'missing' });
  });

  it('keeps a retried or reopened OUTCOME_UNKNOWN job from being cancelled (its write may have been applied), and only that one', async () => {
    const failedWith = async (error: JobError) => {
      const r = record();
      await h.store.create(r);
      await h.store.claimTry(r.id);
      await h.store.fail(r.id, error);
      return r.id;
    };
    const unknown = { code: 'OUTCOME_UNKNOWN' as const, message: 'sent, then no answer', retryable: false };
    const retried = await failedWith(unknown);
    expect((await h.store.retry(retried, 'agent-a')).kind).toBe('retried');
    expect(await h.store.cancel(retried, 'agent-a')).toEqual({ kind: 'uncertain', status: 'queued' });
    const reopened = await failedWith(unknown);
    expect(await h.store.reopen(reopened)).toBe('reopened');
    expect(await h.store.cancel(reopened, 'agent-a')).toEqual({ kind: 'uncertain', status: 'queued' });
    // Nothing was applied by a try that failed with a plain retryable error: it can be cancelled.
    const plain = await failedWith({ code: 'UPSTREAM_ERROR', message: 'upstream answered 503', retryable: true, upstreamStatus: 503 });
    expect((await h.store.retry(plain, 'agent-a')).kind).toBe('retried');
    expect((await h.store.cancel(plain, 'agent-a')).kind).toBe('cancelled');
  });

  it('undoes a retry only while the job is still queued by it', async () => {
    const r = record();
    await h.store.create(r);
    await h.store.claimTry(r.id);
    await h.store.setProgress(r.id, { step: 1 });
    await h.store.fail(r.id, { code: 'TIMEOUT', message: 'slow', retryable: true });
    const failed = await h.store.get(r.id);

    const first = await h.store.retry(r.id, 'agent-a');
    if (first.kind !== 'retried') throw new Error(`expected a retry, got ${first.kind}`);
    expect(first.record).toMatchObject({ status: 'queued', attempts: 1, retries: 1 });
    expect(first.record.progress).toBeUndefined();
    expect(first.record.error).toBeUndefined();
    expect(await h.redis.pttl(redisKeys(h.prefix).job(r.id))).toBe(-1);
    expect(await h.store.undoRetry(r.id, first.undo)).toBe(true);
    expect(await h.store.get(r.id)).toEqual(failed);
    expect(await h.redis.pttl(redisKeys(h.prefix).job(r.id))).toBeGreaterThan(0);
    expect(await h.store.undoRetry(r.id, first.undo)).toBe(false);

    const second = await h.store.retry(r.id, 'agent-a');
    if (second.kind !== 'retried') throw new Error(`expected a retry, got ${second.kind}`);
    expect((await h.store.cancel(r.id, 'agent-a')).kind).toBe('cancelled');
    expect(await h.store.undoRetry(r.id, second.undo)).toBe(false);
    expect((await h.store.get(r.id))?.status).toBe('cancelled');
  });
});
