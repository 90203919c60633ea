import request from 'supertest';
import type { Server } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { Harness } from '../api/harness';
import { startApi } from '../api/harness';
import { parseConfig, type ConfigError } from '@broker/shared/config/load';
import { REDIS_URL } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { ADMIN_TOKEN, AGENT_KEYS, secondApi, securityConfig, securitySecrets, startSecurityApi } from './harness';

/*
 * Per-agent request limits on the API: express-rate-limit with its Redis
 * store, keyed by agent after authentication, shared by every API process.
 */

const config = securityConfig('http://127.0.0.1:9', {
  agents: [
    { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'] },
    // Its own limit overrides the default.
    { id: 'agent-b', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:demo.get*', 'events:read'], rateLimit: { max: 2, windowMs: 60_000 } },
    { id: 'agent-c', key: { secret: 'AGENT_C_KEY' }, scopes: ['tools:*'] },
    { id: 'agent-ops', key: { secret: 'OPS_KEY' }, scopes: ['events:read', 'events:replay', 'integrations:read'], rateLimit: { max: 1, windowMs: 1000 } },
  ],
  apiRateLimit: { max: 6, windowMs: 60_000 },
});

let h: Harness;
let other: { server: Server; close(): Promise<void> };
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

beforeAll(async () => {
  h = await startSecurityApi('api-rl', config);
  other = await secondApi(h, config);
});

afterAll(async () => {
  await other?.close();
  await h?.close();
});

/** Alternates between the two APIs, so a limit that held per process would let twice as many through. */
const servers = () => [h.server, other.server];

describe('per-agent API rate limits', () => {
  it('counts an agent across both API processes and answers 429 RATE_LIMITED with Retry-After past the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await request(servers()[i % 2]!)
        .get('/v1/tools')
        .set(bearer(AGENT_KEYS.a));
      statuses.push(res.status);
      if (res.status === 200) expect(res.headers.ratelimit).toMatch(/^limit=6, remaining=\d+, reset=\d+$/);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);

    const refused = await request(h.server).get('/v1/tools').set(bearer(AGENT_KEYS.a));
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.body.detail).toMatch(/agent-a/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-policy']).toBe('6;w=60');
  });

  it('keys the limit by agent: another agent still gets through, and its own rateLimit overrides the default', async () => {
    await request(h.server).get('/v1/tools').set(bearer(AGENT_KEYS.c)).expect(200);
    const b = [];
    for (let i = 0; i < 3; i++)
      b.push(
        (
          await request(servers()[i % 2]!)
            .get('/v1/tools')
            .set(bearer(AGENT_KEYS.b))
        ).status,
      );
    expect(b).toEqual([200, 200, 429]);
  });

  it('refuses an over-limit job before reading its body: nothing is queued', async () => {
    const before = await h.jobKeyCount();
    const res = await request(h.server)
      .post('/v1/jobs')
      .set(bearer(AGENT_KEYS.a))
      .send({ tool: 'demo.getContact', input: { id: 'x' } });
    expect(res.status).toBe(429);
    expect(await h.jobKeyCount()).toBe(before);
    expect(await h.queuedCount()).toBe(0);
  });

  it('limits agents on operator routes too, never the admin token', async () => {
    // agent-ops: 1 per second.
    await request(h.server).get('/v1/integrations').set(bearer(AGENT_KEYS.ops)).expect(200);
    const second = await request(other.server).get('/v1/events').set(bearer(AGENT_KEYS.ops));
    expect(second.status).toBe(429);
    expect(second.body.code).toBe('RATE_LIMITED');
    for (let i = 0; i < 10; i++)
      await request(servers()[i % 2]!)
        .get('/v1/integrations')
        .set(bearer(ADMIN_TOKEN))
        .expect(200);
  });

  it('opens again when the window ends', async () => {
    await waitFor(async () => (await request(h.server).get('/v1/integrations').set(bearer(AGENT_KEYS.ops))).status === 200, {
      timeoutMs: 3000,
      intervalMs: 100,
      what: 'the 1 s window to end',
    });
  });

  it('unknown keys are refused 401 before any counting', async () => {
    const res = await request(h.server).get('/v1/tools').set(bearer('not-a-key'));
    expect(res.status).toBe(401);
    expect(await h.redis.keys(`${h.prefix}:api-rl:*not-a-key*`)).toEqual([]);
  });

  it('works once Redis comes back, even when it was away while the API started', async () => {
    // A TCP proxy in front of Redis that refuses connections until it is opened.
    const target = new URL(REDIS_URL);
    let open = false;
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      sockets.add(client);
      if (!open) return client.destroy();
      const upstream = connect(Number(target.port || 6379), target.hostname);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}${target.pathname}`;
    const late = await startApi('api-rl-late', { config, producerUrl: url, subscriberUrl: url });
    Object.assign(late.env, securitySecrets());
    try {
      await request(late.server).get('/v1/tools').set(bearer(AGENT_KEYS.b)).expect(200);
      open = true;
      await waitFor(async () => (await request(late.server).get('/readyz')).status === 200, { timeoutMs: 5000, what: 'redis through the proxy' });
      // agent-b: 2 a minute, counted from now on.
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await request(late.server).get('/v1/tools').set(bearer(AGENT_KEYS.b))).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await late.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('with Redis away, requests pass uncounted: the tool list still answers', async () => {
    const down = await startApi('api-rl-down', { config, producerUrl: 'redis://127.0.0.1:1', subscriberUrl: 'redis://127.0.0.1:1' });
    Object.assign(down.env, securitySecrets());
    try {
      for (let i = 0; i < 8; i++) await request(down.server).get('/v1/tools').set(bearer(AGENT_KEYS.a)).expect(200);
      const job = await request(down.server)
        .post('/v1/jobs')
        .set(bearer(AGENT_KEYS.a))
        .send({ tool: 'demo.getContact', input: { id: 'x' } });
      expect(job.status).toBe(503);
    } finally {
      await down.close();
    }
  });
});

describe('limit settings in the config file', () => {
  const base = { agents: [{ id: 'a', key: { secret: 'A' } }] };
  const problemsOf = (config: unknown): string[] => {
    try {
      parseConfig(config);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('accepts apiRateLimit, agents[].rateLimit and agents[].dailyJobCaps', () => {
    const config = parseConfig({
      apiRateLimit: { max: 100, windowMs: 60_000 },
      agents: [{ id: 'a', key: { secret: 'A' }, rateLimit: { max: 5, windowMs: 1000 }, dailyJobCaps: { 'stripe.*': 10, '*': 100 } }],
    });
    expect(config.apiRateLimit).toEqual({ max: 100, windowMs: 60_000 });
    expect(config.agents[0]!.dailyJobCaps).toEqual({ 'stripe.*': 10, '*': 100 });
  });

  it('names every bad value by path', () => {
    const problems = problemsOf({
      ...base,
      apiRateLimit: { max: 0, windowMs: 10 },
      agents: [{ id: 'a', key: { secret: 'A' }, rateLimit: { max: 1, window: 1000 }, dailyJobCaps: { 'bad glob!': 1, 'ok.*': 0 } }],
    });
    const joined = problems.join('\n');
    expect(joined).toMatch(/apiRateLimit\.max/);
    expect(joined).toMatch(/apiRateLimit\.windowMs/);
    expect(joined).toMatch(/agents\.0\.rateLimit/);
    expect(joined).toMatch(/agents\.0\.dailyJobCaps/);
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });
});
