import request from 'supertest';
import type { Server } from 'node:http';
import type { Harness } from '../api/harness';
import { AGENT_KEYS, secondApi, securityConfig, startSecurityApi } from './harness';

/*
 * Cost guard: agents[].dailyJobCaps caps jobs per UTC day per tool glob,
 * counted atomically in Redis, checked at submit before anything is written.
 */

const config = securityConfig('http://127.0.0.1:9', {
  agents: [
    { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'], dailyJobCaps: { 'demo.createOrder': 2, 'demo.*': 3 } },
    { id: 'agent-b', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:demo.*'], dailyJobCaps: { 'demo.getContact': 2 } },
    { id: 'agent-c', key: { secret: 'AGENT_C_KEY' }, scopes: ['tools:*'], dailyJobCaps: { '*': 5 } },
    { id: 'agent-ops', key: { secret: 'OPS_KEY' }, scopes: ['tools:*'] },
  ],
});

let h: Harness;
let other: { server: Server; close(): Promise<void> };
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const order = (qty = 1) => ({ tool: 'demo.createOrder', input: { sku: 'sku_1', qty } });
const contact = (id = 'c_1') => ({ tool: 'demo.getContact', input: { id } });

/** Seconds from now to the next 00:00 UTC. */
function secondsToMidnightUtc(): number {
  const now = new Date();
  return (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
}

beforeAll(async () => {
  h = await startSecurityApi('job-caps', config);
  other = await secondApi(h, config);
});

afterAll(async () => {
  await other?.close();
  await h?.close();
});

describe('daily job caps (cost guard)', () => {
  it('refuses the job past a cap with 429 RATE_LIMITED and Retry-After until midnight UTC, writing nothing', async () => {
    await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.a)).send(order()).expect(202);
    await request(other.server).post('/v1/jobs').set(bearer(AGENT_KEYS.a)).send(order(2)).expect(202);

    const jobs = await h.jobKeyCount();
    const queued = await h.queuedCount();
    const refused = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.a)).send(order(3));
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.code).toBe('RATE_LIMITED');
    expect(refused.body.detail).toContain('"demo.createOrder"');
    expect(refused.body.detail).toMatch(/2 job\(s\).*per UTC day.*resets at \d{4}-\d{2}-\d{2}T00:00:00\.000Z/);
    expect(Math.abs(Number(refused.headers['retry-after']) - secondsToMidnightUtc())).toBeLessThanOrEqual(5);
    expect(await h.jobKeyCount()).toBe(jobs);
    expect(await h.queuedCount()).toBe(queued);
  });

  it('counts a job against every glob that matches it', async () => {
    // demo.* has 3: two orders were counted there too, so one contact fits and the next does not.
    await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.a)).send(contact()).expect(202);
    const refused = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.a)).send(contact('c_2'));
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain('"demo.*"');
  });

  it('still validates first: a bad request over the cap is 422, not 429', async () => {
    const res = await request(h.server)
      .post('/v1/jobs')
      .set(bearer(AGENT_KEYS.a))
      .send({ tool: 'demo.createOrder', input: { sku: 'x', qty: 0 } });
    expect(res.status).toBe(422);
  });

  it('does not count idempotent replays or a reused key, and a replay works at the cap', async () => {
    const first = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).set('Idempotency-Key', 'cap-k1').send(contact('one'));
    expect(first.status).toBe(202);
    for (let i = 0; i < 3; i++) {
      const replay = await request(other.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).set('Idempotency-Key', 'cap-k1').send(contact('one'));
      expect(replay.status).toBe(200);
      expect(replay.body.id).toBe(first.body.id);
    }
    const reused = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).set('Idempotency-Key', 'cap-k1').send(contact('two'));
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // One counted so far: a second job fits, a third does not; the replay still answers at the cap.
    await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).send(contact('three')).expect(202);
    expect((await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).send(contact('four'))).status).toBe(429);
    const atCap = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEYS.b)).set('Idempotency-Key', 'cap-k1').send(contact('one'));
    expect(atCap.status).toBe(200);
    expect(atCap.body.id).toBe(first.body.id);
  });

  it('holds under concurrency across two API processes: exactly the cap gets through', async () => {
    const before = await h.jobKeyCount();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request([h.server, other.server][i % 2]!)
          .post('/v1/jobs')
          .set(bearer(AGENT_KEYS.c))
          .send(contact(`burst-${i}`)),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect((await h.jobKeyCount()) - before).toBe(5);
  });

  it('keeps the counters under keys that expire when the UTC day ends', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const key = `${h.prefix}:job-cap:{cap:agent-c:${day}}:*`;
    expect(await h.redis.get(key)).toBe('5');
    const ttlSeconds = (await h.redis.pttl(key)) / 1000;
    expect(Math.abs(ttlSeconds - secondsToMidnightUtc())).toBeLessThanOrEqual(5);
  });

  it('leaves agents without caps alone and costs them no Redis work', async () => {
    for (let i = 0; i < 8; i++)
      await request(h.server)
        .post('/v1/jobs')
        .set(bearer(AGENT_KEYS.ops))
        .send(contact(`ops-${i}`))
        .expect(202);
    expect(await h.redis.keys(`${h.prefix}:job-cap:{cap:agent-ops:*`)).toEqual([]);
  });
});
