import { parseConfig } from '@broker/shared/config/load';
import { adaptivePauseMs, readRateLimitHeaders, resetToMs } from '@broker/worker';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply } from '../helpers/stub-server';

/**
 * Adaptive rate limits: the worker reads the budget an API reports on its
 * answers and pauses the integration when it is down to the floor, until the
 * reset, so the API never has to answer 429.
 */
describe('reading rate-limit headers', () => {
  const now = Date.parse('2025-01-01T00:00:00.000Z');

  it('tells epoch seconds, epoch ms and seconds-from-now apart in X-RateLimit-Reset', () => {
    expect(resetToMs(now / 1000 + 30, now)).toBe(30_000);
    expect(resetToMs(now + 1500, now)).toBe(1500);
    expect(resetToMs(30, now)).toBe(30_000);
    expect(resetToMs(now / 1000 - 5, now)).toBe(0); // already past
    expect(readRateLimitHeaders({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 12) }, now).budgets).toEqual([{ remaining: 0, resetMs: 12_000 }]);
  });

  it('reads both shapes of the IETF RateLimit field, RateLimit-Policy and the older separate fields', () => {
    // draft 7: one policy as a dictionary
    expect(readRateLimitHeaders({ ratelimit: 'limit=100, remaining=0, reset=7' }).budgets).toEqual([{ remaining: 0, resetMs: 7000 }]);
    // draft 8+: a list of named policies
    const listed = readRateLimitHeaders({ ratelimit: '"hour";r=40;t=1800, "burst";r=1;t=2', 'ratelimit-policy': '"hour";q=1000;w=3600, "burst";q=10;w=5' });
    expect(listed.budgets).toEqual([
      { remaining: 40, resetMs: 1_800_000, windowMs: 3_600_000 },
      { remaining: 1, resetMs: 2000, windowMs: 3_600_000 },
    ]);
    expect(adaptivePauseMs(listed, 1)).toBe(2000); // only the burst policy is at the floor
    expect(adaptivePauseMs(listed, 40)).toBe(1_800_000);
    // no reset given: the policy's window is the safe wait
    expect(adaptivePauseMs(readRateLimitHeaders({ ratelimit: 'limit=5, remaining=0', 'ratelimit-policy': '5;w=2' }), 0)).toBe(2000);
    expect(readRateLimitHeaders({ 'ratelimit-remaining': '3', 'ratelimit-reset': '4' }).budgets).toEqual([{ remaining: 3, resetMs: 4000 }]);
  });

  it('takes the smaller of repeated values, a Retry-After, and nothing from headers that say nothing', () => {
    expect(readRateLimitHeaders({ 'x-ratelimit-remaining': '50, 2', 'x-ratelimit-reset': '9, 3' }).budgets).toEqual([{ remaining: 2, resetMs: 3000 }]);
    expect(readRateLimitHeaders({ 'retry-after': '2' }, now)).toEqual({ budgets: [], retryAfterMs: 2000 });
    expect(readRateLimitHeaders({ 'x-ratelimit-remaining': 'lots', ratelimit: 'nonsense' })).toEqual({ budgets: [] });
    expect(adaptivePauseMs({ budgets: [{ remaining: 2, resetMs: 5000 }] }, 1)).toBe(0); // above the floor
    expect(adaptivePauseMs({ budgets: [{ remaining: 1, resetMs: 5000 }] }, 1)).toBe(5000);
    expect(adaptivePauseMs({ budgets: [{ remaining: 0 }] }, 1)).toBe(0); // nothing to wait for
  });
});

describe('adaptiveRateLimit in the config', () => {
  const integration = (extra: Record<string, unknown>) => parseConfig({ integrations: { x: { baseUrl: 'http://127.0.0.1:9', ...extra } } }).integrations.x!.adaptiveRateLimit;

  it('is on with a floor of 1 unless set; false turns it off; a floor is a whole number from 0', () => {
    expect(integration({})).toEqual({ floor: 1 });
    expect(integration({ adaptiveRateLimit: { floor: 0 } })).toEqual({ floor: 0 });
    expect(integration({ adaptiveRateLimit: false })).toBe(false);
    expect(() => integration({ adaptiveRateLimit: { floor: -1 } })).toThrow(/adaptiveRateLimit/);
    expect(() => integration({ adaptiveRateLimit: true })).toThrow(/adaptiveRateLimit/);
  });
});

describe('pausing before the budget runs out', () => {
  const prefix = uniquePrefix('adaptive');
  let stub: StubServer;
  let rig: WorkerRig;

  interface Answer {
    integration: string;
    at: number;
    remaining: number;
    /** When the stub's window ends: the next call must not arrive before. */
    resetAt: number;
  }
  const answers: Answer[] = [];
  const throttled: string[] = [];

  /**
   * A fixed-window API of `limit` calls; `window(at)` names each call's window
   * and its end; `headers` writes the budget in the API's own dialect.
   */
  function budgetedApi(
    integration: string,
    limit: number,
    window: (at: number) => { id: number; end: number },
    headers: (remaining: number, end: number, at: number) => Record<string, string>,
  ): (at: number) => StubReply {
    const used = new Map<number, number>();
    return (at) => {
      const w = window(at);
      const n = (used.get(w.id) ?? 0) + 1;
      used.set(w.id, n);
      if (n > limit) {
        throttled.push(integration);
        return { status: 429, headers: { 'retry-after': '1' }, body: { error: 'rate limited' } };
      }
      answers.push({ integration, at, remaining: limit - n, resetAt: w.end });
      return { status: 200, headers: headers(limit - n, w.end, at), body: { ok: true } };
    };
  }

  /** Windows of one second that start with the first call after the last one ended. */
  function rollingWindows(): (at: number) => { id: number; end: number } {
    let end = 0;
    return (at) => {
      if (at >= end) end = at + 1000;
      return { id: end, end };
    };
  }

  const apis: Record<string, (at: number) => StubReply> = {
    // GitHub style: X-RateLimit-Reset in epoch seconds, windows on the second.
    github: budgetedApi(
      'github',
      4,
      (at) => ({ id: Math.floor(at / 1000), end: (Math.floor(at / 1000) + 1) * 1000 }),
      (remaining, end) => ({ 'x-ratelimit-limit': '4', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset': String(end / 1000) }),
    ),
    // IETF draft 8+: RateLimit with r/t and a RateLimit-Policy.
    ietf: budgetedApi('ietf', 4, rollingWindows(), (remaining, end, at) => ({
      ratelimit: `"default";r=${remaining};t=${Math.ceil((end - at) / 1000)}`,
      'ratelimit-policy': '"default";q=4;w=1',
    })),
    // Seconds-from-now X-RateLimit-Reset, three calls at once and a floor of 2 (concurrency - 1).
    burst: budgetedApi('burst', 5, rollingWindows(), (remaining, end, at) => ({
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.ceil((end - at) / 1000)),
    })),
  };

  function rawConfig(baseUrl: string) {
    const tool = (name: string) => [{ name: `${name}.ping`, method: 'GET', path: `/${name}/{n}`, input: { type: 'object' } }];
    const common = { baseUrl, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } };
    return {
      integrations: {
        github: { ...common, concurrency: 1, tools: tool('github') },
        ietf: { ...common, concurrency: 1, tools: tool('ietf') },
        burst: { ...common, concurrency: 3, adaptiveRateLimit: { floor: 2 }, tools: tool('burst') },
        relaxed: { ...common, concurrency: 1, tools: tool('relaxed') },
        off: { ...common, concurrency: 1, adaptiveRateLimit: false, tools: tool('off') },
      },
    };
  }

  let relaxedFirst = true;
  beforeAll(async () => {
    stub = await StubServer.start((req) => {
      const name = req.path.split('/')[1]!;
      const api = apis[name];
      if (api) return api(req.at);
      if (name === 'relaxed') {
        const headers: Record<string, string> = relaxedFirst ? { 'retry-after': '1' } : {};
        relaxedFirst = false;
        return { status: 200, headers, body: { ok: true } };
      }
      // Says the budget is gone on every answer; with adaptive limits off nobody listens.
      return { status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '30' }, body: { ok: true } };
    });
    rig = await startWorkerRig(parseConfig(rawConfig(stub.url)), prefix, {});
  });

  afterAll(async () => {
    await rig.close();
    await stub.close();
  });

  const run = async (tool: string, count: number) => {
    const ids = await Promise.all(Array.from({ length: count }, (_, n) => rig.jobs.submit(tool, { n })));
    return Promise.all(ids.map((id) => rig.jobs.settled(id, 15_000)));
  };
  const callsOf = (integration: string) => stub.requests.filter((r) => r.path.startsWith(`/${integration}/`)).map((r) => r.at);

  it('never earns a 429, and makes no call between the floor and the reset', async () => {
    const finished = (await Promise.all([run('github.ping', 7), run('ietf.ping', 7), run('burst.ping', 9)])).flat();

    expect(finished.every((j) => j.status === 'succeeded' && j.attempts === 1)).toBe(true);
    expect(throttled).toEqual([]);
    for (const integration of ['github', 'ietf']) {
      const floorHits = answers.filter((a) => a.integration === integration && a.remaining <= 1);
      expect(floorHits.length).toBeGreaterThanOrEqual(2); // the pause really happened, more than once
      for (const hit of floorHits) expect(callsOf(integration).filter((at) => at > hit.at && at < hit.resetAt)).toEqual([]);
    }
    // Three at once with a floor of 2: the two calls already on their way use the last of the budget, no more.
    const burstHits = answers.filter((a) => a.integration === 'burst' && a.remaining === 2);
    expect(burstHits.length).toBeGreaterThanOrEqual(2);
    for (const hit of burstHits) expect(callsOf('burst').filter((at) => at > hit.at && at < hit.resetAt).length).toBeLessThanOrEqual(2);
  }, 20_000);

  it('pauses for a Retry-After on a successful answer, and not at all when turned off', async () => {
    const [relaxed, off] = await Promise.all([run('relaxed.ping', 3), run('off.ping', 3)]);
    expect([...relaxed, ...off].every((j) => j.status === 'succeeded')).toBe(true);

    const [first, ...rest] = callsOf('relaxed');
    expect(rest).toHaveLength(2);
    for (const at of rest) expect(at).toBeGreaterThanOrEqual(first! + 1000);
    // Every answer of "off" says the budget is gone for 30 s; its calls went on regardless.
    const offCalls = callsOf('off');
    expect(offCalls).toHaveLength(3);
    expect(offCalls[2]! - offCalls[0]!).toBeLessThan(1000);
  }, 15_000);
});
