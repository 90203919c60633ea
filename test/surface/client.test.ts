import { BrokerApiError, BrokerClient, BrokerTimeoutError } from '@broker/client';
import { KEYS } from '../api/harness';
import { demoUpstream, startStack, type Stack } from './stack';

/** The typed client (`@broker/client`) against a real api + worker and a stub upstream. */

let s: Stack;
let a: BrokerClient;

beforeAll(async () => {
  s = await startStack('client');
  a = new BrokerClient({ baseUrl: s.baseUrl, agentKey: KEYS.a });
});
afterAll(async () => {
  await s?.close();
});

describe('@broker/client', () => {
  it('lists the tools of the key', async () => {
    const tools = await a.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['demo.createOrder', 'demo.getContact']);
    expect(tools.find((t) => t.name === 'demo.createOrder')).toMatchObject({ integration: 'demo', idempotent: true, inputSchema: { required: ['sku', 'qty'] } });
  });

  it('submits, then waits for the result with long-polls', async () => {
    const job = await a.submit<{ id: string }>('demo.getContact', { id: 'c_client_1' });
    expect(job).toMatchObject({ tool: 'demo.getContact', status: 'queued', attempts: 0 });
    const done = await a.wait<{ id: string }>(job.id, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ id: job.id, status: 'succeeded', result: { id: 'c_client_1' } });
    expect((await a.get(job.id)).status).toBe('succeeded');
  });

  it('returns a failed job with its error code (wait does not throw for it)', async () => {
    const done = await a.run('demo.getContact', { id: 'missing' }, { timeoutMs: 10_000 });
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'NOT_FOUND', retryable: false, upstreamStatus: 404 });
  });

  it('replays a submission with the same idempotency key', async () => {
    const first = await a.submit('demo.createOrder', { sku: 'sku_client', qty: 1 }, { idempotencyKey: 'client-order-1' });
    const again = await a.submit('demo.createOrder', { sku: 'sku_client', qty: 1 }, { idempotencyKey: 'client-order-1' });
    expect(again.id).toBe(first.id);
    await a.wait(first.id, { timeoutMs: 10_000 });
    expect(s.upstream.count((r) => r.path === '/orders' && r.body.includes('sku_client'))).toBe(1);
  });

  it('throws BrokerApiError with status, code and field errors', async () => {
    const err = (await a.submit('demo.createOrder', { sku: 'x', qty: 0 }, { connection: 'nope' }).catch((e: unknown) => e)) as BrokerApiError;
    expect(err).toBeInstanceOf(BrokerApiError);
    expect(err).toMatchObject({ status: 422, code: 'VALIDATION_ERROR', retryable: false });
    expect(err.errors.map((e) => e.pointer).sort()).toEqual(['/connection', '/input/qty']);

    await expect(a.submit('demo.nope', {})).rejects.toMatchObject({ status: 404, code: 'TOOL_NOT_FOUND' });
    await expect(a.submit('demo.createOrder', { sku: 'x', qty: 1 }, { idempotencyKey: 'k'.repeat(256) })).rejects.toMatchObject({ status: 400, code: 'INVALID_IDEMPOTENCY_KEY' });
    await expect(a.get('job_00000000000000000000000000000000')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const stranger = new BrokerClient({ baseUrl: s.baseUrl, agentKey: 'not-a-key' });
    await expect(stranger.listTools()).rejects.toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('cancels a queued job; cancelling it again is 409 CONFLICT', async () => {
    // The queue is paused (for every worker) so the job stays queued.
    await s.h.queue.pause();
    try {
      const job = await a.submit('demo.getContact', { id: 'c_cancel' });
      expect((await a.cancel(job.id)).status).toBe('cancelled');
      await expect(a.cancel(job.id)).rejects.toMatchObject({ status: 409, code: 'CONFLICT' });
    } finally {
      await s.h.queue.resume();
    }
  });

  it('retries a retryable failed job as the same job; a job that did not fail is 409 CONFLICT', async () => {
    const path = '/contacts/c_client_retry';
    s.upstream.setHandler((req, i) => (req.path === path && s.upstream.count((r) => r.path === path) === 1 ? { status: 503, body: { error: 'busy' } } : demoUpstream(req, i)));
    try {
      const failed = await a.run('demo.getContact', { id: 'c_client_retry' }, { timeoutMs: 10_000 });
      expect(failed).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR', retryable: true } });
      const queued = await a.retryJob(failed.id);
      expect(queued).toMatchObject({ id: failed.id, status: 'queued', attempts: 1 });
      expect(queued.error).toBeUndefined();
      expect(await a.wait(failed.id, { timeoutMs: 10_000 })).toMatchObject({ id: failed.id, status: 'succeeded', attempts: 2, result: { id: 'c_client_retry' } });

      const err = (await a.retryJob(failed.id).catch((e: unknown) => e)) as BrokerApiError;
      expect(err).toBeInstanceOf(BrokerApiError);
      expect(err).toMatchObject({ status: 409, code: 'CONFLICT', retryable: false });
      await expect(a.retryJob('job_00000000000000000000000000000000')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    } finally {
      s.upstream.setHandler(demoUpstream);
    }
  });

  it('gives up waiting with BrokerTimeoutError carrying the last state', async () => {
    const job = await a.submit('demo.getContact', { id: 'slow-2000' });
    const err = (await a.wait(job.id, { timeoutMs: 300 }).catch((e: unknown) => e)) as BrokerTimeoutError;
    expect(err).toBeInstanceOf(BrokerTimeoutError);
    expect(['queued', 'running']).toContain(err.job.status);
    expect((await a.wait(job.id, { timeoutMs: 10_000 })).status).toBe('succeeded');
  });
});
