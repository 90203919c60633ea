import { parseConfig } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { redisKeys } from '@broker/redis/keys';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';

/**
 * Every row of the classification table (docs/api.md#tool-error-codes-in-joberrorcode), end to end: a real
 * worker, real Redis, and a stub upstream that plays each failure.
 */
const prefix = uniquePrefix('classify');
let stub: StubServer;
let rig: WorkerRig;
let config: BrokerConfig;

/** Per-path scripts: each path answers its list of replies in turn, the last one forever. */
const scripts: Record<string, StubReply[]> = {
  '/items/ok': [{ status: 200, body: { id: 'ok' } }],
  '/items/s503': [{ status: 503 }, { status: 200, body: { id: 's503' } }],
  '/items/s500': [{ status: 500, body: { error: 'boom' } }],
  '/items/s502': [{ status: 502 }],
  '/items/s504': [{ status: 504 }],
  '/items/s400': [{ status: 400, body: { error: 'bad sku' } }],
  '/items/s422': [{ status: 422, body: { error: 'qty too large' } }],
  '/items/s401': [{ status: 401 }],
  '/items/s403': [{ status: 403 }],
  '/items/s404': [{ status: 404 }],
  '/items/s409': [{ status: 409 }],
  '/items/s418': [{ status: 418 }],
  '/items/malformed': [{ status: 200, raw: '{"id": "mal', headers: { 'content-type': 'application/json' } }],
  '/items/drift': [{ status: 200, body: { id: 42 } }],
  '/items/hang': [{ hang: true }],
  '/items/reset': [{ destroy: true }],
  '/orders/hang': [{ hang: true }],
  '/orders/s502': [{ status: 502 }, { status: 201, body: { id: 'o2' } }],
  '/orders/s503': [{ status: 503 }, { status: 201, body: { id: 'o3' } }],
  '/safe-orders': [{ hang: true }, { status: 201, body: { id: 'o1' } }],
  '/last/s503': [{ status: 503, headers: { 'retry-after': '5' }, body: { error: 'maintenance' } }],
};

function reply(req: StubRequest): StubReply {
  const script = scripts[req.path] ?? [{ status: 404 }];
  const seen = stub.count((r) => r.path === req.path) - 1;
  return script[Math.min(seen, script.length - 1)]!;
}

const callsTo = (path: string) => stub.count((r) => r.path === path);

beforeAll(async () => {
  stub = await StubServer.start(reply);
  config = parseConfig({
    integrations: {
      up: {
        baseUrl: stub.url,
        auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'UP_KEY' },
        timeoutMs: 300,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 40 },
        // This file plays many 5xx in a row to check classification; the breaker has its own tests (test/integrations/breaker*.test.ts).
        circuitBreaker: { failureThreshold: 1000, recoveryTimeoutMs: 1000 },
        apiVersion: { header: 'Up-Version', value: '2025-01-01' },
        tools: [
          {
            name: 'up.getItem',
            method: 'GET',
            path: '/items/{id}',
            input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
            output: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
          { name: 'up.createOrder', method: 'POST', path: '/orders/{kind}', input: { type: 'object' } },
          { name: 'up.createSafeOrder', method: 'POST', path: '/safe-orders', idempotent: true, input: { type: 'object' } },
        ],
      },
      // One attempt: its failed try is the job's last.
      last: {
        baseUrl: stub.url,
        retry: { attempts: 1, baseDelayMs: 10, maxDelayMs: 20 },
        tools: [{ name: 'last.getItem', method: 'GET', path: '/last/{id}', input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }],
      },
      // Nothing listens here: connection refused before anything is sent.
      down: {
        baseUrl: 'http://127.0.0.1:9',
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        circuitBreaker: { failureThreshold: 1000, recoveryTimeoutMs: 1000 },
        tools: [{ name: 'down.ping', method: 'POST', path: '/ping', input: { type: 'object' } }],
      },
    },
  });
  rig = await startWorkerRig(config, prefix, { UP_KEY: 'sk_test_up' });
});

afterAll(async () => {
  await rig.close();
  await stub.close();
});

async function run(tool: string, input: Record<string, unknown>) {
  return rig.jobs.settled(await rig.jobs.submit(tool, input));
}

describe('classification of upstream answers', () => {
  it('succeeds, sending auth, the pinned API version and a request id', async () => {
    const job = await run('up.getItem', { id: 'ok' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { id: 'ok' } });
    const sent = stub.requests.find((r) => r.path === '/items/ok')!;
    expect(sent.headers.authorization).toBe('Bearer sk_test_up');
    expect(sent.headers['up-version']).toBe('2025-01-01');
    expect(sent.headers['x-request-id']).toBe(`${job.id}-1`);
  });

  it('retries a 503 and succeeds on the next attempt', async () => {
    const job = await run('up.getItem', { id: 's503' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: 's503' } });
    expect(callsTo('/items/s503')).toBe(2);
  });

  it.each([
    ['s500', 500],
    ['s502', 502],
    ['s504', 504],
  ])('retries a persistent %s exactly `attempts` times, then UPSTREAM_ERROR', async (id, status) => {
    const job = await run('up.getItem', { id });
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(3);
    expect(job.error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true, upstreamStatus: status });
    expect(callsTo(`/items/${id}`)).toBe(3);
  });

  it.each([
    ['s400', 'VALIDATION_ERROR', 400],
    ['s422', 'VALIDATION_ERROR', 422],
    ['s403', 'PERMISSION_DENIED', 403],
    ['s404', 'NOT_FOUND', 404],
    ['s409', 'CONFLICT', 409],
    ['s418', 'UNKNOWN', 418],
  ])('fails %s at once as %s, with one call', async (id, code, status) => {
    const job = await run('up.getItem', { id });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code, retryable: false, upstreamStatus: status } });
    expect(callsTo(`/items/${id}`)).toBe(1);
  });

  it('keeps the upstream message for a 400 so the agent can fix the call', async () => {
    const job = await run('up.getItem', { id: 's400' });
    expect(job.error?.message).toContain('bad sku');
  });

  it('reads credentials again once after a 401, then AUTHENTICATION_FAILED', async () => {
    const job = await run('up.getItem', { id: 's401' });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'AUTHENTICATION_FAILED', upstreamStatus: 401 } });
    expect(callsTo('/items/s401')).toBe(2);
  });

  it('treats malformed JSON as UNKNOWN, not retried', async () => {
    const job = await run('up.getItem', { id: 'malformed' });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UNKNOWN', retryable: false } });
    expect(job.error?.message).toMatch(/malformed/);
    expect(callsTo('/items/malformed')).toBe(1);
  });

  it('reports an answer that breaks the output schema as SCHEMA_MISMATCH', async () => {
    const job = await run('up.getItem', { id: 'drift' });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'SCHEMA_MISMATCH', retryable: false } });
    expect(job.error?.message).toContain('/id');
    expect(callsTo('/items/drift')).toBe(1);
  });

  it('retries a read that times out, then TIMEOUT', async () => {
    const job = await run('up.getItem', { id: 'hang' });
    expect(job).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'TIMEOUT', retryable: true } });
    expect(callsTo('/items/hang')).toBe(3);
  });

  it('never resends a write without an idempotency key after a gateway error (502), but does after a 503', async () => {
    const unknown = await run('up.createOrder', { kind: 's502', sku: 'x' });
    expect(unknown).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(unknown.error?.message).toMatch(/may have taken effect upstream/);
    expect(callsTo('/orders/s502')).toBe(1);
    // A 503 says the write was not applied: retried as before.
    expect(await run('up.createOrder', { kind: 's503', sku: 'x' })).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(callsTo('/orders/s503')).toBe(2);
  });

  it('never resends a write without an idempotency key whose outcome is unknown', async () => {
    const job = await run('up.createOrder', { kind: 'hang', sku: 'x' });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(callsTo('/orders/hang')).toBe(1);
  });

  it('resends an idempotent write after a timeout with the same Idempotency-Key', async () => {
    const job = await run('up.createSafeOrder', { sku: 'x' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: 'o1' } });
    const keys = stub.requests.filter((r) => r.path === '/safe-orders').map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([job.id, job.id]);
  });

  it('retries a dropped connection on a read, then UPSTREAM_ERROR', async () => {
    const job = await run('up.getItem', { id: 'reset' });
    expect(job).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'UPSTREAM_ERROR', retryable: true } });
    // Each attempt is one call, plus one resend in place when the reset came on a
    // reused keep-alive socket (whether the pool had one is up to timing here;
    // test/unit/integration-client.test.ts pins both cases down).
    expect(callsTo('/items/reset')).toBeGreaterThanOrEqual(3);
    expect(callsTo('/items/reset')).toBeLessThanOrEqual(6);
  });

  it('a 503 with Retry-After on the last attempt fails the job, and still pauses the integration (and holds its queue) for every worker', async () => {
    const job = await run('last.getItem', { id: 's503' });
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR', upstreamStatus: 503 } });
    const pause = await rig.redis.pttl(redisKeys(prefix).pause('last'));
    expect(pause).toBeGreaterThan(3000);
    expect(pause).toBeLessThanOrEqual(5000);
    expect(await rig.jobs.queue('last').getRateLimitTtl()).toBeGreaterThan(3000);
  });

  it('retries a refused connection (nothing was sent) even for a write', async () => {
    const job = await run('down.ping', {});
    expect(job).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'UPSTREAM_ERROR', retryable: true } });
  });
});
