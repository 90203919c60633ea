import { parseConfig } from '@broker/shared/config/load';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { maxInSlidingWindow } from '../helpers/processes';
import { uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * Keyed limits: each connection (one credential of an integration) has its
 * own sliding window — `rateLimit.perConnection`, or the connection's own
 * `rateLimit` — on top of the integration's. A job over its connection's
 * window waits (`deferred`, no attempt spent) while other connections' jobs
 * keep flowing.
 */
const prefix = uniquePrefix('keyed');
let stub: StubServer;
let rig: WorkerRig;

const SLOW = { max: 5, durationMs: 1000 };
const FAST = { max: 20, durationMs: 1000 };
const KEYS = { SLOW_KEY: 'key-slow', FAST_KEY: 'key-fast', DEFAULT_KEY: 'key-default' };

function rawConfig(baseUrl: string) {
  const apiKey = (secret: string) => ({ type: 'apiKey', header: 'X-Api-Key', secret });
  return {
    integrations: {
      keyed: {
        baseUrl,
        auth: apiKey('DEFAULT_KEY'),
        // The integration-wide window is wide on purpose: only the connections' windows bind.
        rateLimit: { max: 200, durationMs: 1000, perConnection: FAST },
        concurrency: 10,
        connections: {
          slow: { auth: apiKey('SLOW_KEY'), rateLimit: SLOW },
          fast: { auth: apiKey('FAST_KEY') },
        },
        tools: [{ name: 'keyed.ping', method: 'GET', path: '/ping/{n}', input: { type: 'object' } }],
      },
    },
  };
}

beforeAll(async () => {
  stub = await StubServer.start(() => ({ status: 200, body: { ok: true } }));
  rig = await startWorkerRig(parseConfig(rawConfig(stub.url)), prefix, KEYS);
});

afterAll(async () => {
  await rig.close();
  await stub.close();
});

it('holds each connection to its own sliding window; the slow one waits without holding up the fast one', async () => {
  const slowCount = 15;
  const fastCount = 40;
  // Interleaved, so neither connection is first in the queue.
  const submissions = Array.from({ length: slowCount + fastCount }, (_, n) => (n % 3 === 0 && n / 3 < slowCount ? ['slow', n] : ['fast', n])) as [string, number][];
  const started = Date.now();
  const ids = await Promise.all(submissions.map(([connection, n]) => rig.jobs.submit('keyed.ping', { n }, connection).then((id) => ({ id, connection }))));
  expect(ids.filter((j) => j.connection === 'slow')).toHaveLength(slowCount);

  // Over its window, a slow job is deferred: waiting, not failed.
  const slowIds = ids.filter((j) => j.connection === 'slow').map((j) => j.id);
  await waitFor(async () => (await Promise.all(slowIds.map((id) => rig.jobs.store.get(id)))).some((r) => r?.status === 'deferred'), {
    what: 'a slow job deferred by its connection window',
  });

  const finished: JobRecord[] = await Promise.all(ids.map(({ id }) => rig.jobs.settled(id, 15_000)));
  expect(finished.every((j) => j.status === 'succeeded')).toBe(true);
  // Waiting for the window spent no attempt.
  expect(finished.every((j) => j.attempts === 1)).toBe(true);

  const arrivals = (key: string) => stub.requests.filter((r) => r.headers['x-api-key'] === key).map((r) => r.at);
  const slow = arrivals(KEYS.SLOW_KEY);
  const fast = arrivals(KEYS.FAST_KEY);
  expect(slow).toHaveLength(slowCount);
  expect(fast).toHaveLength(fastCount);
  expect(arrivals(KEYS.DEFAULT_KEY)).toEqual([]);

  expect(maxInSlidingWindow(slow, SLOW.durationMs)).toBeLessThanOrEqual(SLOW.max);
  expect(maxInSlidingWindow(fast, FAST.durationMs)).toBeLessThanOrEqual(FAST.max);
  // Each used its budget: a full window at once, not a trickle.
  expect(maxInSlidingWindow(slow, SLOW.durationMs)).toBe(SLOW.max);
  expect(maxInSlidingWindow(fast, FAST.durationMs)).toBe(FAST.max);
  // Neither starved: both started at once, and the fast one was done well before the slow one.
  expect(Math.min(...slow) - started).toBeLessThan(1000);
  expect(Math.min(...fast) - started).toBeLessThan(1000);
  expect(Math.max(...fast)).toBeLessThan(Math.max(...slow) - 500);
}, 20_000);
