import { createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { waitForReady } from '@broker/redis/connection';
import { bearer, KEYS, startApi, type Harness } from './harness';
import { parseCommands } from './stalling-redis-proxy';

/** Nothing listens on port 1; connections are refused at once. */
const CLOSED_PORT_URL = 'redis://127.0.0.1:1';

/** Time the contract allows for an answer while Redis is away. */
const BUDGET_MS = 2000;

async function timed(run: () => PromiseLike<request.Response>): Promise<{ res: request.Response; ms: number }> {
  const started = Date.now();
  const res = await run();
  return { res, ms: Date.now() - started };
}

function expectUnavailable({ res, ms }: { res: request.Response; ms: number }): void {
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  expect(res.headers['retry-after']).toBe('1');
  expect(ms).toBeLessThan(BUDGET_MS);
}

const someId = 'job_0123456789abcdef0123456789abcdef';

function endpoints(h: () => Harness) {
  const submit = () =>
    request(h().server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.createOrder', input: { sku: 'A', qty: 1 } });

  it('POST /v1/jobs answers 503 UNAVAILABLE with Retry-After within 2 s', async () => {
    expectUnavailable(await timed(() => submit()));
    expectUnavailable(await timed(() => submit().set('Idempotency-Key', 'k-1')));
  });

  it('GET /v1/jobs/:id (with and without waitMs) answers 503 within 2 s', async () => {
    expectUnavailable(await timed(() => request(h().server).get(`/v1/jobs/${someId}`).set(bearer(KEYS.a))));
    expectUnavailable(await timed(() => request(h().server).get(`/v1/jobs/${someId}?waitMs=10000`).set(bearer(KEYS.a))));
  });

  it('DELETE /v1/jobs/:id answers 503 within 2 s', async () => {
    expectUnavailable(await timed(() => request(h().server).delete(`/v1/jobs/${someId}`).set(bearer(KEYS.a))));
  });

  it('/readyz says 503, /healthz and the tool list still answer', async () => {
    const ready = await timed(() => request(h().server).get('/readyz'));
    expect(ready.res.status).toBe(503);
    expect(ready.ms).toBeLessThan(BUDGET_MS);
    await request(h().server).get('/healthz').expect(200, { status: 'ok' });
    await request(h().server).get('/v1/tools').set(bearer(KEYS.a)).expect(200);
  });

  it('still validates before touching Redis', async () => {
    const res = await request(h().server).post('/v1/jobs').set(bearer(KEYS.a)).send({ tool: 'demo.createOrder', input: {} });
    expect(res.status).toBe(422);
  });
}

describe('Redis refuses connections', () => {
  let h: Harness;
  beforeAll(async () => {
    const started = Date.now();
    h = await startApi('api-redis-down', { producerUrl: CLOSED_PORT_URL, subscriberUrl: CLOSED_PORT_URL });
    // Start-up must not hang on Redis either.
    expect(Date.now() - started).toBeLessThan(BUDGET_MS);
  });
  afterAll(async () => {
    await h.close();
  });
  endpoints(() => h);
});

/**
 * A TCP server posing as Redis. With `handshake`, it answers what ioredis and
 * BullMQ send while connecting (CLIENT, INFO) and then leaves every other
 * command unanswered: a Redis that hangs mid-flight rather than one that is
 * plainly gone. Without, it answers nothing at all.
 */
async function fakeRedis(handshake: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const info = '# Server\r\nredis_version:7.2.0\r\nloading:0\r\n';
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk) => {
      if (!handshake) return;
      const { commands, rest } = parseCommands(pending + chunk.toString('latin1'));
      pending = rest;
      for (const [name] of commands) {
        const command = name?.toLowerCase();
        if (command === 'info') socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        else if (command === 'client') socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each([
  ['accepts connections but never answers', false],
  ['answers the handshake, then hangs', true],
])('Redis %s', (_label, handshake) => {
  let h: Harness;
  let fake: Awaited<ReturnType<typeof fakeRedis>>;
  beforeAll(async () => {
    fake = await fakeRedis(handshake);
    h = await startApi('api-redis-hang', { producerUrl: fake.url });
    if (handshake) await waitForReady(h.producer, 2000);
  });
  afterAll(async () => {
    await h.close();
    await fake.close();
  });
  endpoints(() => h);
});
