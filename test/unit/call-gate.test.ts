import { Redis } from 'ioredis';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { admissionMargin, CallGate, PRE_ADMISSION_FRESH_MS } from '@broker/worker';
import { DEADLINE_BUCKET_MS } from '@broker/tools';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * How long a call holds its slot of a sliding window: a call still on its way
 * until it is answered, however late it is written (a slow connect, a proxy),
 * up to its deadline plus a margin; an answered call exactly a window after
 * its answer (which came after the upstream saw it). No waiting: the gate says
 * how long the next call must wait.
 */
const prefix = uniquePrefix('call-gate');
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const gate = new CallGate(redis, redisKeys(prefix));
const WINDOW_MS = 60_000;
const config = parseConfig({
  agents: [],
  integrations: {
    one: { baseUrl: 'http://127.0.0.1:9', rateLimit: { max: 1, durationMs: WINDOW_MS }, tools: [] },
    perconn: { baseUrl: 'http://127.0.0.1:9', rateLimit: { max: 100, durationMs: WINDOW_MS, perConnection: { max: 1, durationMs: WINDOW_MS } }, tools: [] },
  },
});

afterAll(async () => {
  await dropPrefix(prefix);
  redis.disconnect();
});

/** `name` is the Redis name of the integration; `config` the settings of the configured one of that kind. */
async function refusedWait(name: string, connection: string, member: string, settings = config.integrations[name] ?? config.integrations.one!): Promise<number> {
  const verdict = await gate.acquire(name, settings, connection, member);
  if (verdict.admitted) throw new Error(`${member} was admitted`);
  return verdict.waitMs;
}

it('the margin is 2 % of the window, between 5 and 50 ms', () => {
  expect([admissionMargin(100), admissionMargin(1000), admissionMargin(60_000)]).toEqual([5, 20, 50]);
});

it('a call not yet answered holds its slot until it could no longer be written, and the next waits at least a window', async () => {
  const one = config.integrations.one!;
  const before = Date.now();
  expect(await gate.acquire('one', one, 'default', 'call-1')).toEqual({ admitted: true });
  // Stamped at the latest moment it could still leave: the start of its exchange may come
  // PRE_ADMISSION_FRESH_MS later, then its deadline, the deadline bucket and the margin.
  const ahead = PRE_ADMISSION_FRESH_MS + one.timeoutMs + DEADLINE_BUCKET_MS + admissionMargin(WINDOW_MS);
  const stamp = Number(await redis.zscore(redisKeys(prefix).rateWindow('one'), 'call-1'));
  expect(stamp).toBeGreaterThanOrEqual(before + ahead - 50);
  expect(stamp).toBeLessThanOrEqual(Date.now() + ahead + 50);
  // Its slot frees a window after its answer at the earliest: from now, a window.
  const wait = await refusedWait('one', 'default', 'call-2');
  expect(wait).toBeGreaterThan(WINDOW_MS - 1000);
  expect(wait).toBeLessThanOrEqual(WINDOW_MS + 1);
});

it('an answered call holds it for exactly the window after its answer', async () => {
  await gate.settled('one', config.integrations.one!, 'default', 'call-1');
  const wait = await refusedWait('one', 'default', 'call-3');
  expect(wait).toBeGreaterThan(WINDOW_MS - 1000);
  expect(wait).toBeLessThanOrEqual(WINDOW_MS + 1);
});

it('the same holds for a per-connection window, and one connection does not hold another', async () => {
  const perconn = config.integrations.perconn!;
  expect(await gate.acquire('perconn', perconn, 'acme', 'c-1')).toEqual({ admitted: true });
  expect(await refusedWait('perconn', 'acme', 'c-2')).toBeGreaterThan(WINDOW_MS);
  expect(await gate.acquire('perconn', perconn, 'globex', 'c-3')).toEqual({ admitted: true });
  await gate.settled('perconn', perconn, 'acme', 'c-1');
  expect(await refusedWait('perconn', 'acme', 'c-4')).toBeLessThanOrEqual(WINDOW_MS + 1);
});

it('a call answered late keeps its window alive until a window after its answer', async () => {
  // The key's expiry was set at the last admission; an answer that comes
  // later must not let it drop the window (and every call in it) early.
  const one = config.integrations.one!;
  const key = redisKeys(prefix).rateWindow('late');
  expect(await gate.acquire('late', one, 'default', 'late-1')).toEqual({ admitted: true });
  await redis.pexpire(key, 5000); // as if most of the window had passed before the answer
  await gate.settled('late', one, 'default', 'late-1');
  expect(await redis.pttl(key)).toBeGreaterThan(WINDOW_MS - 1000);
  expect(await refusedWait('late', 'default', 'late-2')).toBeGreaterThan(WINDOW_MS - 1000);
  // A call whose admission entry was pruned while it was on its way counts
  // again from its answer: every call counts until a window after its answer.
  await redis.zrem(key, 'late-1');
  await gate.settled('late', one, 'default', 'late-1');
  expect(Number(await redis.zscore(key, 'late-1'))).toBeGreaterThan(Date.now() - 1000);
});

it('holds a paused connection back without holding the integration', async () => {
  const perconn = config.integrations.perconn!;
  await gate.pause('perconn', 5000, '429', 'acme');
  expect(await gate.acquire('perconn', perconn, 'acme', 'p-1')).toMatchObject({ admitted: false, scope: 'connection', reason: 'paused' });
  expect(await gate.acquire('perconn', perconn, 'other', 'p-2')).toEqual({ admitted: true });
  await gate.pause('perconn', 5000, '503');
  expect(await gate.acquire('perconn', perconn, 'other', 'p-3')).toMatchObject({ admitted: false, scope: 'integration', reason: 'paused' });
});
