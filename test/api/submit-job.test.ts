import request from 'supertest';
import { publicJobSchema } from '@broker/shared/jobs/schema';
import { bearer, KEYS, startApi, testConfig, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startApi('api-submit');
});

afterAll(async () => {
  await h.close();
});

const order = { tool: 'demo.createOrder', input: { sku: 'A-1', qty: 2 } };
const submit = (body: unknown, key = KEYS.a) =>
  request(h.server)
    .post('/v1/jobs')
    .set(bearer(key))
    .send(body as object);

function expectProblem(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}

/** Runs `act` and asserts it left no job record and no BullMQ job behind. */
async function expectNothingWritten(act: () => Promise<void>): Promise<void> {
  const [queued, records] = [await h.queuedCount(), await h.jobKeyCount()];
  await act();
  expect(await h.queuedCount()).toBe(queued);
  expect(await h.jobKeyCount()).toBe(records);
}

describe('POST /v1/jobs: accepted', () => {
  it('answers 202 with Location and the job, and queues the BullMQ job with its payload', async () => {
    const res = await submit(order).expect(202);
    const id: string = res.body.id;
    expect(id).toMatch(/^job_[0-9a-f]{32}$/);
    expect(res.headers.location).toBe(`/v1/jobs/${id}`);
    expect(publicJobSchema.strict().parse(res.body)).toEqual({
      id,
      tool: 'demo.createOrder',
      status: 'queued',
      attempts: 0,
      createdAt: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(res.body.createdAt))).toBe(false);

    const job = await h.queue.getJob(id);
    expect(job).toBeDefined();
    expect(job!.name).toBe('demo.createOrder');
    expect(job!.data).toEqual({
      tool: 'demo.createOrder',
      integration: 'demo',
      input: { sku: 'A-1', qty: 2 },
      connection: 'default',
      agentId: 'agent-a',
      // The worker logs it and sends it upstream as X-Request-Id.
      requestId: res.headers['x-request-id'],
    });
    expect(job!.opts.attempts).toBe(3);

    const record = await h.store.get(id);
    expect(record).toMatchObject({ status: 'queued', agentId: 'agent-a', integration: 'demo', connection: 'default' });
  });

  it('accepts a declared connection and passes it on', async () => {
    const res = await submit({ ...order, connection: 'eu' }).expect(202);
    expect((await h.queue.getJob(res.body.id))!.data.connection).toBe('eu');
  });
});

describe('POST /v1/jobs: refused before anything is written', () => {
  it('422 with pointers into the input', async () => {
    await expectNothingWritten(async () => {
      const res = await submit({ tool: 'demo.createOrder', input: { sku: 7, qty: 0 } });
      expectProblem(res, 422, 'VALIDATION_ERROR');
      const pointers = res.body.errors.map((e: { pointer: string }) => e.pointer).sort();
      expect(pointers).toEqual(['/input/qty', '/input/sku']);
      const missing = await submit({ tool: 'demo.createOrder', input: { sku: 'A-1' } });
      expectProblem(missing, 422, 'VALIDATION_ERROR');
      expect(missing.body.errors).toEqual([{ pointer: '/input/qty', message: expect.any(String) }]);
    });
  });

  it('422 with pointers into the body for wrong types and unknown fields', async () => {
    await expectNothingWritten(async () => {
      const res = await submit({ tool: 5, input: 'x', extra: true });
      expectProblem(res, 422, 'VALIDATION_ERROR');
      const pointers = res.body.errors.map((e: { pointer: string }) => e.pointer).sort();
      expect(pointers).toEqual(['/extra', '/input', '/tool']);
      expectProblem(await submit([1, 2]), 422, 'VALIDATION_ERROR');
    });
  });

  it('422 /connection for a connection the integration does not declare', async () => {
    await expectNothingWritten(async () => {
      const res = await submit({ ...order, connection: 'nope' });
      expectProblem(res, 422, 'VALIDATION_ERROR');
      expect(res.body.errors).toEqual([{ pointer: '/connection', message: expect.any(String) }]);
    });
  });

  it('404 TOOL_NOT_FOUND for an unknown tool', async () => {
    await expectNothingWritten(async () => {
      expectProblem(await submit({ tool: 'demo.nothing', input: {} }), 404, 'TOOL_NOT_FOUND');
    });
  });

  it('400 INVALID_JSON for a malformed body', async () => {
    await expectNothingWritten(async () => {
      const res = await request(h.server).post('/v1/jobs').set(bearer(KEYS.a)).set('Content-Type', 'application/json').send('{"tool": "demo.createOrder",');
      expectProblem(res, 400, 'INVALID_JSON');
    });
  });

  it('415 for a body that is not JSON', async () => {
    await expectNothingWritten(async () => {
      const res = await request(h.server).post('/v1/jobs').set(bearer(KEYS.a)).set('Content-Type', 'text/plain').send(JSON.stringify(order));
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  it('413 for a body over 1 MiB', async () => {
    await expectNothingWritten(async () => {
      const res = await submit({ tool: 'demo.createOrder', input: { sku: 'x'.repeat(1024 * 1024), qty: 1 } });
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  it('400 INVALID_IDEMPOTENCY_KEY for an empty, too long or non-printable key', async () => {
    await expectNothingWritten(async () => {
      for (const key of ['k'.repeat(256), 'tab\there', '']) {
        const res = await submit(order).set('Idempotency-Key', key);
        expectProblem(res, 400, 'INVALID_IDEMPOTENCY_KEY');
      }
    });
    // 255 printable characters is fine.
    await submit(order).set('Idempotency-Key', '~'.repeat(255)).expect(202);
  });
});

describe('POST /v1/jobs: idempotency', () => {
  it('replays the same request (keys in any order) with 200 and the same job', async () => {
    const first = await submit(order).set('Idempotency-Key', 'order-1').expect(202);
    const again = await submit({ input: { qty: 2, sku: 'A-1' }, tool: 'demo.createOrder' })
      .set('Idempotency-Key', 'order-1')
      .expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(`/v1/jobs/${first.body.id}`);
    expect(again.body).toEqual(first.body);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
  });

  it('422 IDEMPOTENCY_KEY_REUSED for the same key with another payload', async () => {
    await submit(order).set('Idempotency-Key', 'order-2').expect(202);
    await expectNothingWritten(async () => {
      const res = await submit({ ...order, input: { sku: 'A-1', qty: 3 } }).set('Idempotency-Key', 'order-2');
      expectProblem(res, 422, 'IDEMPOTENCY_KEY_REUSED');
    });
  });

  it('keeps keys per agent', async () => {
    const a = await submit({ tool: 'demo.getContact', input: { id: 'c1' } }).set('Idempotency-Key', 'shared');
    const b = await submit({ tool: 'demo.getContact', input: { id: 'c1' } }, KEYS.bNew).set('Idempotency-Key', 'shared');
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('turns 20 concurrent duplicates into exactly one job', async () => {
    const queued = await h.queuedCount();
    const records = await h.jobKeyCount();
    const answers = await Promise.all(Array.from({ length: 20 }, () => submit(order).set('Idempotency-Key', 'burst')));
    for (const res of answers) expect([200, 202]).toContain(res.status);
    expect(answers.filter((r) => r.status === 202)).toHaveLength(1);
    const ids = new Set(answers.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await h.queuedCount()).toBe(queued + 1);
    expect(await h.jobKeyCount()).toBe(records + 1);
    expect(await h.queue.getJob([...ids][0] as string)).toBeDefined();
  });

  it('re-adds the BullMQ job on replay when the first request died before queueing it', async () => {
    const first = await submit(order).set('Idempotency-Key', 'heal').expect(202);
    // Simulate a crash between the record write and queue.add.
    await h.queue.remove(first.body.id);
    expect(await h.queue.getJob(first.body.id)).toBeUndefined();
    await submit(order).set('Idempotency-Key', 'heal').expect(200);
    expect((await h.queue.getJob(first.body.id))!.data.input).toEqual(order.input);
  });
});

describe('POST /v1/jobs: callbackUrl', () => {
  const withCallback = (callbackUrl: string) => submit({ ...order, callbackUrl });

  it.each([
    'http://127.0.0.1/cb',
    'http://2130706433/cb',
    'http://0x7f.1/cb',
    'http://[::ffff:127.0.0.1]/cb',
    'http://[64:ff9b::10.0.0.1]/cb',
    'http://[2002:c0a8:101::1]/cb',
    'http://[::1]/cb',
    'http://169.254.169.254/latest/meta-data',
    'http://10.1.2.3/cb',
    'http://172.16.0.1/cb',
    'http://192.168.1.1/cb',
    'http://100.64.0.1/cb',
    'http://0.0.0.0/cb',
    'http://[fd00:ec2::254]/cb',
    'http://[fe80::1]/cb',
    'http://localhost:8080/cb',
    'ftp://example.com/cb',
    'not a url',
  ])('refuses %s with 422 /callbackUrl', async (url) => {
    await expectNothingWritten(async () => {
      const res = await withCallback(url);
      expectProblem(res, 422, 'VALIDATION_ERROR');
      expect(res.body.errors).toEqual([{ pointer: '/callbackUrl', message: expect.any(String) }]);
    });
  });

  it('accepts a host in callbacks.allowHosts without resolving it, and a public address', async () => {
    const allowed = await withCallback('https://callbacks.test/hook').expect(202);
    expect((await h.store.get(allowed.body.id))!.callbackUrl).toBe('https://callbacks.test/hook');
    await withCallback('http://93.184.215.14/hook').expect(202);
  });

  it('refuses any callbackUrl when callbacks are not configured', async () => {
    const bare = await startApi('api-nocb', { config: testConfig({ callbacks: undefined }) });
    try {
      const res = await request(bare.server)
        .post('/v1/jobs')
        .set(bearer(KEYS.a))
        .send({ ...order, callbackUrl: 'https://callbacks.test/hook' });
      expectProblem(res, 422, 'VALIDATION_ERROR');
      expect(res.body.errors[0].pointer).toBe('/callbackUrl');
      expect(await bare.jobKeyCount()).toBe(0);
    } finally {
      await bare.close();
    }
  });
});
