import request from 'supertest';
import { bearer, KEYS, startApi, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startApi('api-auth');
});

afterAll(async () => {
  await h.close();
});

const toolNames = (body: { tools: { name: string }[] }) => body.tools.map((t) => t.name).sort();

function expectProblem(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}

describe('GET /v1/tools', () => {
  it('lists only the tools the key scopes allow, in the contract shape', async () => {
    const a = await request(h.server).get('/v1/tools').set(bearer(KEYS.a)).expect(200);
    expect(toolNames(a.body)).toEqual(['demo.createOrder', 'demo.getContact']);
    expect(a.body.tools.find((t: { name: string }) => t.name === 'demo.getContact')).toEqual({
      name: 'demo.getContact',
      description: 'Fetch one contact',
      integration: 'demo',
      apiVersion: null,
      idempotent: false,
      inputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      outputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    });

    const b = await request(h.server).get('/v1/tools').set(bearer(KEYS.bNew)).expect(200);
    expect(toolNames(b.body)).toEqual(['demo.getContact']);

    const c = await request(h.server).get('/v1/tools').set(bearer(KEYS.c)).expect(200);
    expect(toolNames(c.body)).toEqual(['demo.createOrder', 'demo.getContact', 'other.ping']);
  });
});

describe('agent authentication', () => {
  it('refuses a request without a key: 401 with WWW-Authenticate', async () => {
    const res = await request(h.server).get('/v1/tools');
    expectProblem(res, 401, 'UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('refuses an unknown key and a non-Bearer scheme', async () => {
    const wrong = await request(h.server).get('/v1/tools').set(bearer('not-a-key'));
    expectProblem(wrong, 401, 'UNAUTHENTICATED');
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    const basic = await request(h.server).get('/v1/tools').set('Authorization', `Basic ${KEYS.a}`);
    expectProblem(basic, 401, 'UNAUTHENTICATED');
  });

  it('accepts every key of a comma-separated secret (rotation)', async () => {
    await request(h.server).get('/v1/tools').set(bearer(KEYS.bOld)).expect(200);
    await request(h.server).get('/v1/tools').set(bearer(KEYS.bNew)).expect(200);
  });

  it('resolves the secret at each request, so a rotated key works without a restart', async () => {
    h.env.AGENT_A_KEY = 'rotated-key-a';
    try {
      expectProblem(await request(h.server).get('/v1/tools').set(bearer(KEYS.a)), 401, 'UNAUTHENTICATED');
      await request(h.server).get('/v1/tools').set(bearer('rotated-key-a')).expect(200);
    } finally {
      h.env.AGENT_A_KEY = KEYS.a;
    }
  });

  it('refuses a tool outside the scopes with 403 and queues nothing', async () => {
    const before = await h.queuedCount();
    const res = await request(h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.bNew))
      .send({ tool: 'demo.createOrder', input: { sku: 'A-1', qty: 1 } });
    expectProblem(res, 403, 'FORBIDDEN');
    expect(await h.queuedCount()).toBe(before);
    expect(await h.jobKeyCount()).toBe(0);
  });
});

describe('routing and plumbing', () => {
  it('answers unknown routes and methods with problems', async () => {
    expectProblem(await request(h.server).get('/v1/nope'), 404, 'NOT_FOUND');
    const put = await request(h.server).put('/v1/jobs').set(bearer(KEYS.a));
    expectProblem(put, 405, 'METHOD_NOT_ALLOWED');
    expect(put.headers.allow).toBe('POST');
  });

  it('echoes a sane X-Request-Id and replaces anything else', async () => {
    const kept = await request(h.server).get('/healthz').set('X-Request-Id', 'trace-123');
    expect(kept.headers['x-request-id']).toBe('trace-123');
    const replaced = await request(h.server).get('/healthz').set('X-Request-Id', 'bad id <script>');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports health without Redis and readiness with it', async () => {
    const health = await request(h.server).get('/healthz').expect(200);
    expect(health.body).toEqual({ status: 'ok' });
    await request(h.server).get('/readyz').expect(200);
  });
});
