import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, portOf, startApi, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startApi('api-jobs');
});

afterAll(async () => {
  await h.close();
});

async function newJob(key = KEYS.a): Promise<string> {
  const res = await request(h.server)
    .post('/v1/jobs')
    .set(bearer(key))
    .send({ tool: 'demo.getContact', input: { id: 'c-1' } })
    .expect(202);
  return res.body.id as string;
}

const getJob = (id: string, query = '', key = KEYS.a) => request(h.server).get(`/v1/jobs/${id}${query}`).set(bearer(key));

function expectProblem(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}

describe('GET /v1/jobs/:id', () => {
  it('returns the job to its owner', async () => {
    const id = await newJob();
    const res = await getJob(id).expect(200);
    expect(res.body).toEqual({ id, tool: 'demo.getContact', status: 'queued', attempts: 0, createdAt: expect.any(String) });
  });

  it("answers 404 for an unknown id, a malformed id and another agent's job", async () => {
    const id = await newJob();
    expectProblem(await getJob('job_00000000000000000000000000000000'), 404, 'NOT_FOUND');
    expectProblem(await getJob('whatever'), 404, 'NOT_FOUND');
    expectProblem(await getJob(id, '', KEYS.c), 404, 'NOT_FOUND');
  });

  it('refuses a waitMs that is not an integer in 0..30000', async () => {
    const id = await newJob();
    for (const bad of ['abc', '-1', '30001', '1.5']) {
      const res = await getJob(id, `?waitMs=${bad}`);
      expectProblem(res, 422, 'VALIDATION_ERROR');
      expect(res.body.errors[0].pointer).toBe('/waitMs');
    }
    await getJob(id, '?waitMs=0').expect(200);
  });

  it('holds a long-poll until the job finishes, and answers as soon as it does', async () => {
    const id = await newJob();
    const started = Date.now();
    const answer = getJob(id, '?waitMs=5000').then((res) => ({ res, at: Date.now() }));
    // The request is parked on the event hub, not polling.
    await waitFor(() => h.api.waiting() === 1, { timeoutMs: 2000, what: 'the long-poll to start waiting' });
    expect(await h.store.succeed(id, { id: 'c-1', name: 'Ada' })).toBe(true);
    const finishedAt = Date.now();

    const { res, at } = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'succeeded', result: { id: 'c-1', name: 'Ada' }, finishedAt: expect.any(String) });
    expect(at - finishedAt).toBeLessThan(1000);
    expect(at - started).toBeLessThan(4000);
    expect(h.api.waiting()).toBe(0);
  });

  it('answers a finished job at once even with waitMs', async () => {
    const id = await newJob();
    await h.store.succeed(id, { id: 'c-1' });
    const started = Date.now();
    const res = await getJob(id, '?waitMs=5000').expect(200);
    expect(res.body.status).toBe('succeeded');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers with the job as it is once waitMs is up', async () => {
    const id = await newJob();
    const started = Date.now();
    const res = await getJob(id, '?waitMs=200').expect(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(res.body.status).toBe('queued');
    expect(h.api.waiting()).toBe(0);
  });

  it('frees the waiter when the client goes away', async () => {
    const id = await newJob();
    const req = httpRequest({
      host: '127.0.0.1',
      port: portOf(h.server),
      path: `/v1/jobs/${id}?waitMs=20000`,
      headers: bearer(KEYS.a),
    });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => h.api.waiting() === 1, { timeoutMs: 2000, what: 'the long-poll to start waiting' });
    req.destroy();
    await waitFor(() => h.api.waiting() === 0, { timeoutMs: 2000, what: 'the waiter to be freed' });
  });
});

describe('DELETE /v1/jobs/:id', () => {
  it('cancels a queued job: 200 cancelled, the BullMQ job removed, and a later claim skips it', async () => {
    const id = await newJob();
    expect(await h.queue.getJob(id)).toBeDefined();

    const res = await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.a)).expect(200);
    expect(res.body).toMatchObject({ id, status: 'cancelled', finishedAt: expect.any(String) });
    expect(await h.queue.getJob(id)).toBeUndefined();
    expect((await getJob(id).expect(200)).body.status).toBe('cancelled');
    expect(await h.store.claim(id)).toBe('cancelled');

    expectProblem(await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.a)), 409, 'CONFLICT');
  });

  it('wakes a long-poll on cancel', async () => {
    const id = await newJob();
    // supertest sends on then(), not before.
    const answer = getJob(id, '?waitMs=5000').then((res) => res);
    await waitFor(() => h.api.waiting() === 1, { timeoutMs: 2000, what: 'the long-poll to start waiting' });
    await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.a)).expect(200);
    expect((await answer).body.status).toBe('cancelled');
  });

  it('409 once the job runs', async () => {
    const id = await newJob();
    expect(await h.store.claim(id)).toBe('running');
    const res = await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.a));
    expectProblem(res, 409, 'CONFLICT');
    expect((await h.store.get(id))!.status).toBe('running');
  });

  it("404 for another agent's job, which stays queued", async () => {
    const id = await newJob();
    const res = await request(h.server).delete(`/v1/jobs/${id}`).set(bearer(KEYS.c));
    expectProblem(res, 404, 'NOT_FOUND');
    expect((await h.store.get(id))!.status).toBe('queued');
    expect(await h.queue.getJob(id)).toBeDefined();
  });
});
