import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { JobSubmitter, testLogger } from '../helpers/broker';
import { maxInSlidingWindow, startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { startMockOAuth, type MockOAuth } from '../oauth/mock-oauth';

/**
 * Every upstream request counts in the windows from the moment it is sent,
 * whatever happens before it or after it (docs/integrations.md#limits-and-the-circuit-breaker): a slow credential
 * refresh does not let calls admitted before it pile up after it, a resend
 * after a 401 is a call of its own, a 429 holds back only the credential that
 * got it while a 503's Retry-After holds back the whole integration, and a
 * connection whose window would keep a paginated try waiting for longer than
 * a try may wait gives its worker slot back instead of holding it.
 */
const prefix = uniquePrefix('counted');
const keys = redisKeys(prefix);
let redis: Redis;
let api: StubServer;
let mock: MockOAuth;
let jobs: JobSubmitter;
const processes: RunningProcess[] = [];
let inProcess: WorkerApp | undefined;

const SECRETS = {
  BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  CRM_CLIENT_SECRET: `crm-secret-${randomBytes(8).toString('hex')}`,
  RESEND_KEY: `resend-${randomBytes(8).toString('hex')}`,
  A_KEY: `key-a-${randomBytes(8).toString('hex')}`,
  B_KEY: `key-b-${randomBytes(8).toString('hex')}`,
  GH_DEFAULT: `ghp_default_${randomBytes(8).toString('hex')}`,
  GH_A: `ghp_a_${randomBytes(8).toString('hex')}`,
  GH_B: `ghp_b_${randomBytes(8).toString('hex')}`,
};
const SEED = { accessToken: `seed-at-${randomBytes(8).toString('hex')}`, refreshToken: `seed-rt-${randomBytes(8).toString('hex')}` };

const CRM_LIMIT = { max: 10, durationMs: 1000 };
const RESEND_LIMIT = { max: 4, durationMs: 1000 };
/** Connection `a` of github: one call per 40 s, so a second page would wait longer than a try may (30 s). */
const SLOW_PAGES = { max: 1, durationMs: 40_000 };

const quickRetry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };

/**
 * The worker's BullMQ limiter only counts (its max is out of reach); `queue.rateLimit(ms)`,
 * the integration-wide hold, sets the count to MAX_SAFE_INTEGER. Asked with this max, BullMQ
 * reports the time left of such a hold, and 0 for the ordinary count.
 */
const HELD = 1_000_000_000;

/** What the two worker processes run (tests 1 and 2). */
function processIntegrations() {
  return {
    crm: {
      baseUrl: api.url,
      auth: { type: 'oauth2', grant: 'authorization_code', tokenUrl: mock.tokenUrl, clientId: 'crm-client', clientSecret: 'CRM_CLIENT_SECRET' },
      rateLimit: CRM_LIMIT,
      concurrency: 10,
      retry: quickRetry,
      tools: [{ name: 'crm.getContact', method: 'GET', path: '/contacts/{id}', input: { type: 'object' } }],
    },
    resend: {
      baseUrl: api.url,
      auth: { type: 'apiKey', header: 'X-Api-Key', secret: 'RESEND_KEY' },
      rateLimit: RESEND_LIMIT,
      concurrency: 10,
      retry: quickRetry,
      tools: [{ name: 'resend.ping', method: 'GET', path: '/resend/{n}', input: { type: 'object' } }],
    },
  };
}

/** What the in-process worker runs (tests 3 and 4). */
function inProcessIntegrations() {
  const apiKey = (secret: string) => ({ type: 'apiKey', header: 'X-Api-Key', secret });
  return {
    conn: {
      baseUrl: api.url,
      auth: apiKey('A_KEY'),
      concurrency: 4,
      retry: quickRetry,
      connections: { a: { auth: apiKey('A_KEY') }, b: { auth: apiKey('B_KEY') } },
      tools: [{ name: 'conn.ping', method: 'GET', path: '/conn/{n}', input: { type: 'object' } }],
    },
    github: {
      baseUrl: api.url,
      auth: { type: 'apiKey', secret: 'GH_DEFAULT' },
      // One slot: a job that held it while waiting for its connection's window would stop every other job.
      concurrency: 1,
      retry: quickRetry,
      connections: {
        a: { auth: { type: 'apiKey', secret: 'GH_A' }, rateLimit: SLOW_PAGES },
        b: { auth: { type: 'apiKey', secret: 'GH_B' } },
      },
    },
  };
}

// --- the upstream: one stub, one behaviour per path ----------------------------------------------

/** Test 3's switches: the next request with a's key gets a 429, the next with b's key a 503. */
const conn = { a429: false, b503: false };

function rawIssue(number: number) {
  const at = '2026-01-01T00:00:00Z';
  return { id: number, number, title: `issue ${number}`, state: 'open', html_url: `https://github.invalid/o/r/issues/${number}`, created_at: at, updated_at: at };
}

function answer(req: StubRequest): StubReply {
  if (req.path.startsWith('/contacts/')) {
    // The seeded token is the stale one: a call sent with it would be answered 401 (and show up here).
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    return token && token !== SEED.accessToken ? { status: 200, body: { id: req.path } } : { status: 401 };
  }
  if (req.path.startsWith('/resend/')) {
    // Each job's first request is refused, its second (the resend) answered.
    const seen = api.count((r) => r.path === req.path);
    return seen === 1 ? { status: 401, body: { error: 'expired key' } } : { status: 200, body: { ok: true } };
  }
  if (req.path.startsWith('/conn/')) {
    const key = req.headers['x-api-key'];
    if (key === SECRETS.A_KEY && conn.a429) {
      conn.a429 = false;
      return { status: 429, headers: { 'retry-after': '4' }, body: { error: 'slow down' } };
    }
    if (key === SECRETS.B_KEY && conn.b503) {
      conn.b503 = false;
      return { status: 503, headers: { 'retry-after': '2' }, body: { error: 'maintenance' } };
    }
    return { status: 200, body: { ok: true } };
  }
  if (req.path === '/repos/o/r/issues') {
    // Two pages, GitHub style: the first names the second in its Link header.
    if (req.query.get('page') === '2') return { status: 200, body: [rawIssue(1)] };
    const next = new URL(`${api.url}/repositories/1/issues`);
    for (const [k, v] of req.query) next.searchParams.set(k, v);
    next.searchParams.set('page', '2');
    return { status: 200, headers: { link: `<${next.toString()}>; rel="next"` }, body: [rawIssue(2)] };
  }
  return { status: 404, body: { error: 'no such path' } };
}

const arrivals = (filter: (r: StubRequest) => boolean) => api.requests.filter(filter).map((r) => r.at);
const finishedAt = (j: JobRecord) => Date.parse(j.finishedAt!);

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  [mock, api] = await Promise.all([startMockOAuth(), StubServer.start((req) => answer(req))]);
  jobs = new JobSubmitter(redis, prefix, parseConfig({ integrations: { ...processIntegrations(), ...inProcessIntegrations() } }));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopApp(p)));
  await inProcess?.close();
  await jobs?.close();
  await api?.close();
  await mock?.close();
  redis?.disconnect();
  await dropPrefix(prefix);
});

describe('two worker processes', () => {
  beforeAll(async () => {
    const env = { BROKER_CONFIG: writeConfigFile({ integrations: processIntegrations() }), BROKER_REDIS_PREFIX: prefix, ...SECRETS };
    processes.push(...(await Promise.all([startApp('worker', env, 'worker ready'), startApp('worker', env, 'worker ready')])));
  });

  afterAll(async () => {
    // Stopped before the in-process tests, so those measure one worker and nothing else.
    await Promise.all(processes.map((p) => stopApp(p)));
  });

  it('counts calls from when they are sent, not from before a slow token refresh: at most `max` in any sliding second', async () => {
    const store = new OAuthTokenStore(redis, keys, new TokenCipher(envSecretsProvider(SECRETS)));
    // Two minutes left: inside the 5-minute margin, so every try refreshes first (once, across both processes).
    await store.importTokens('crm', 'default', { ...SEED, expiresAt: Date.now() + 120_000 });
    await mock.control({ validRefreshTokens: [SEED.refreshToken], delayMs: 1500 });

    const total = 30;
    const submitted = Date.now();
    const ids = await Promise.all(Array.from({ length: total }, (_, n) => jobs.submit('crm.getContact', { id: `c${n}` })));
    const finished = await Promise.all(ids.map((id) => jobs.settled(id, 30_000)));
    expect(finished.map((j) => j.status)).toEqual(Array(total).fill('succeeded'));

    const refreshes = (await mock.requests()).filter((r) => r.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ status: 200, presentedRefreshToken: SEED.refreshToken });

    const calls = api.requests.filter((r) => r.path.startsWith('/contacts/'));
    // Exactly one call per job, every one with the refreshed token: no 401, no resend.
    expect(calls).toHaveLength(total);
    expect(new Set(calls.map((r) => String(r.headers.authorization)))).toEqual(new Set([`Bearer ${refreshes[0]!.accessToken}`]));
    const times = calls.map((r) => r.at);
    const busiest = maxInSlidingWindow(times, CRM_LIMIT.durationMs);
    console.log(
      `[counted-calls] oauth: ${calls.length} arrivals, busiest sliding second ${busiest}, first ${Math.min(...times) - submitted} ms / last ${Math.max(...times) - submitted} ms after submission`,
    );
    expect(busiest).toBeLessThanOrEqual(CRM_LIMIT.max);
    // Nothing was sent before the slow refresh answered.
    expect(Math.min(...times) - submitted).toBeGreaterThanOrEqual(1500);
    for (const p of processes) expect(p.output()).toContain('"integration":"crm"');
  }, 45_000);

  it('counts the resend after a 401 as a call of its own: 8 jobs, 16 arrivals, never more than `max` in a sliding second', async () => {
    const total = 8;
    const ids = await Promise.all(Array.from({ length: total }, (_, n) => jobs.submit('resend.ping', { n })));
    const finished = await Promise.all(ids.map((id) => jobs.settled(id, 20_000)));
    expect(finished.map((j) => j.status)).toEqual(Array(total).fill('succeeded'));
    // The resend happened inside the try: no attempt spent on it.
    expect(finished.map((j) => j.attempts)).toEqual(Array(total).fill(1));

    const calls = api.requests.filter((r) => r.path.startsWith('/resend/'));
    expect(calls).toHaveLength(2 * total);
    for (let n = 0; n < total; n++) expect(calls.filter((r) => r.path === `/resend/${n}`)).toHaveLength(2);
    expect(calls.every((r) => r.headers['x-api-key'] === SECRETS.RESEND_KEY)).toBe(true);
    const times = calls.map((r) => r.at);
    const busiest = maxInSlidingWindow(times, RESEND_LIMIT.durationMs);
    console.log(`[counted-calls] 401 resend: ${calls.length} arrivals over ${Math.max(...times) - Math.min(...times)} ms, busiest sliding second ${busiest}`);
    expect(busiest).toBeLessThanOrEqual(RESEND_LIMIT.max);
  }, 30_000);
});

describe('one worker, named connections', () => {
  beforeAll(async () => {
    inProcess = createWorkerApp({
      config: parseConfig({ integrations: inProcessIntegrations() }),
      redis,
      prefix,
      secrets: envSecretsProvider(SECRETS),
      logger: testLogger('worker'),
    });
    await inProcess.ready();
  });

  it("pauses only the connection a 429 was for, and the whole integration for a 503's Retry-After", async () => {
    const aKey = (r: StubRequest) => r.path.startsWith('/conn/') && r.headers['x-api-key'] === SECRETS.A_KEY;
    const bKey = (r: StubRequest) => r.path.startsWith('/conn/') && r.headers['x-api-key'] === SECRETS.B_KEY;

    // A 429 with Retry-After: 4 on a's key.
    conn.a429 = true;
    const first = await jobs.submit('conn.ping', { n: 0 }, 'a');
    // Deferred is recorded after the pause is set: everything submitted from here on meets it.
    await waitFor(async () => (await jobs.store.get(first))?.status === 'deferred', { what: "the 429'd job deferred" });
    const throttledAt = arrivals(aKey)[0]!;
    // a's credential is paused for every worker; the integration and its queue are not.
    expect(await redis.pttl(keys.connectionPause('conn', 'a'))).toBeGreaterThan(0);
    expect(await redis.exists(keys.connectionPause('conn', 'b'))).toBe(0);
    expect(await jobs.queue('conn').getRateLimitTtl(HELD)).toBe(0);
    const aIds = await Promise.all([1, 2, 3].map((n) => jobs.submit('conn.ping', { n }, 'a')));
    const bIds = await Promise.all([4, 5, 6, 7, 8, 9].map((n) => jobs.submit('conn.ping', { n }, 'b')));

    // b's jobs run meanwhile, and a's are taken but held back (deferred, nothing sent).
    const bDone = await Promise.all(bIds.map((id) => jobs.settled(id, 10_000)));
    expect(bDone.map((j) => j.status)).toEqual(Array(bIds.length).fill('succeeded'));
    await waitFor(async () => (await Promise.all(aIds.map((id) => jobs.store.get(id)))).every((r) => r?.status === 'deferred'), {
      what: "a's later jobs deferred by the connection's pause",
    });
    const heldSeenAt = Date.now();
    const aDone = await Promise.all([first, ...aIds].map((id) => jobs.settled(id, 15_000)));
    expect(aDone.map((j) => j.status)).toEqual(Array(4).fill('succeeded'));
    // The 429 spent no attempt.
    expect(aDone.map((j) => j.attempts)).toEqual(Array(4).fill(1));

    const aTimes = arrivals(aKey);
    const bTimes = arrivals(bKey);
    expect(aTimes).toHaveLength(1 + 4);
    expect(bTimes).toHaveLength(bIds.length);
    const aQuietMs = Math.min(...aTimes.slice(1)) - throttledAt;
    const bLastMs = Math.max(...bDone.map(finishedAt)) - throttledAt;
    console.log(
      `[counted-calls] 429 on a: next request with a's key after ${aQuietMs} ms; b's ${bIds.length} jobs done ${bLastMs} ms after the 429; a's jobs seen held at +${heldSeenAt - throttledAt} ms`,
    );
    // Same host, same clock: the pause starts when the worker reads the 429, after the stub recorded it.
    expect(aQuietMs).toBeGreaterThanOrEqual(4000);
    expect(bLastMs).toBeLessThan(4000);
    expect(heldSeenAt - throttledAt).toBeLessThan(4000);
    // Only a connection was paused, never the integration.
    expect(await redis.exists(keys.pause('conn'))).toBe(0);

    // A 503 with Retry-After: 2 on b's key holds back both connections.
    conn.b503 = true;
    const unavailable = await jobs.submit('conn.ping', { n: 10 }, 'b');
    // The retry is recorded after the integration's pause is set.
    await waitFor(async () => (await jobs.store.get(unavailable))?.error?.upstreamStatus === 503, { what: 'the 503 recorded' });
    const outageAt = api.requests.filter((r) => r.path === '/conn/10')[0]!.at;
    expect(await redis.exists(keys.pause('conn'))).toBe(1);
    expect(await jobs.queue('conn').getRateLimitTtl(HELD)).toBeGreaterThan(0);
    const seen = api.count();
    const later = await Promise.all([...[11, 12].map((n) => jobs.submit('conn.ping', { n }, 'a')), ...[13, 14].map((n) => jobs.submit('conn.ping', { n }, 'b'))]);
    const afterOutage = await Promise.all([unavailable, ...later].map((id) => jobs.settled(id, 10_000)));
    expect(afterOutage.map((j) => j.status)).toEqual(Array(5).fill('succeeded'));
    expect(afterOutage[0]!.attempts).toBe(2);

    const next = api.requests.slice(seen);
    expect(next.filter((r) => r.headers['x-api-key'] === SECRETS.A_KEY)).toHaveLength(2);
    expect(next.filter((r) => r.headers['x-api-key'] === SECRETS.B_KEY)).toHaveLength(3);
    const quietMs = Math.min(...next.map((r) => r.at)) - outageAt;
    console.log(`[counted-calls] 503 on b: next request of either connection after ${quietMs} ms`);
    expect(quietMs).toBeGreaterThanOrEqual(2000);
  }, 30_000);

  it("defers a paginated try whose connection window would hold it over 30 s, and the other connection's jobs keep flowing", async () => {
    const issuesWith = (token: string) => (r: StubRequest) => r.path === '/repos/o/r/issues' && r.headers.authorization === `Bearer ${token}`;

    const paged = await jobs.submit('github.listIssues', { owner: 'o', repo: 'r' }, 'a');
    // Page 1 is sent; page 2 would wait ~40 s for a's window: the job is put back, not failed, not waiting in its slot.
    await waitFor(async () => (await jobs.store.get(paged))?.status === 'deferred', { what: 'the paginated job deferred', timeoutMs: 10_000 });
    const deferredAt = Date.now();

    const others = await Promise.all([0, 1, 2].map(() => jobs.submit('github.listIssues', { owner: 'o', repo: 'r' }, 'b')));
    const done = await Promise.all(others.map((id) => jobs.settled(id, 5_000)));
    expect(done.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(done.map((j) => (j.result as { pages: number }).pages)).toEqual([2, 2, 2]);
    const flowedMs = Math.max(...done.map(finishedAt)) - deferredAt;
    console.log(`[counted-calls] paginated on a deferred; b's 3 two-page jobs done ${flowedMs} ms later with concurrency 1`);
    expect(flowedMs).toBeLessThan(5000);

    // a sent its first page only, and is still waiting for its window: deferred, no attempt spent.
    expect(api.requests.filter(issuesWith(SECRETS.GH_A)).map((r) => r.query.get('page'))).toEqual([null]);
    expect(api.requests.filter(issuesWith(SECRETS.GH_B))).toHaveLength(6);
    expect(await jobs.store.get(paged)).toMatchObject({ status: 'deferred', attempts: 0 });
    // Neither the integration's pause nor its queue's limiter was set: only connection a waits.
    expect(await redis.exists(keys.pause('github'))).toBe(0);
    expect(await jobs.queue('github').getRateLimitTtl(HELD)).toBe(0);
  }, 20_000);
});
