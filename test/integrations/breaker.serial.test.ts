import { Redis } from 'ioredis';
import { parseConfig } from '@broker/shared/config/load';
import { readCircuitState, type CircuitSnapshot } from '@broker/redis/limits/circuit-state';
import { redisKeys } from '@broker/redis/keys';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import { JobSubmitter } from '../helpers/broker';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * The circuit breaker across two worker processes: it opens after N
 * consecutive 5xx answers whichever process got them, no call reaches the
 * upstream while it is open, jobs wait `deferred` without spending attempts,
 * one probe goes out when it half-opens (a failure re-opens it, a success
 * closes it) and the backlog then drains. A storm of 4xx never opens it.
 */
const prefix = uniquePrefix('breaker');
const keys = redisKeys(prefix);
const THRESHOLD = 4;
const RECOVERY_MS = 1500;
let stub: StubServer;
let redis: Redis;
let jobs: JobSubmitter;
const processes: RunningProcess[] = [];
let flakyMode: 'fail' | 'ok' = 'fail';

function rawConfig(baseUrl: string) {
  const common = { baseUrl, concurrency: 2, circuitBreaker: { failureThreshold: THRESHOLD, recoveryTimeoutMs: RECOVERY_MS } };
  return {
    integrations: {
      flaky: {
        ...common,
        retry: { attempts: 10, baseDelayMs: 20, maxDelayMs: 100 },
        tools: [{ name: 'flaky.ping', method: 'GET', path: '/flaky/{n}', input: { type: 'object' } }],
      },
      picky: {
        ...common,
        retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
        tools: [{ name: 'picky.ping', method: 'GET', path: '/picky/{n}', input: { type: 'object' } }],
      },
    },
  };
}

const CLIENT_ERRORS = [400, 404, 409, 422];

beforeAll(async () => {
  stub = await StubServer.start((req) => {
    if (req.path.startsWith('/flaky')) {
      return flakyMode === 'fail' ? { status: 500, body: { error: 'boom' } } : { status: 200, body: { ok: true } };
    }
    const picky = stub.count((r) => r.path.startsWith('/picky'));
    // A few 429s first (no wait asked), then nothing but client errors.
    if (picky <= 3) return { status: 429, headers: { 'retry-after': '0' }, body: { error: 'slow down' } };
    return { status: CLIENT_ERRORS[picky % CLIENT_ERRORS.length]!, body: { error: 'no' } };
  });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  jobs = new JobSubmitter(redis, prefix, parseConfig(rawConfig(stub.url)));
  const env = { BROKER_CONFIG: writeConfigFile(rawConfig(stub.url)), BROKER_REDIS_PREFIX: prefix };
  processes.push(...(await Promise.all([startApp('worker', env, 'worker ready'), startApp('worker', env, 'worker ready')])));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopApp(p)));
  await jobs.close();
  await stub.close();
  redis.disconnect();
  await dropPrefix(prefix);
});

/** Every log line of both processes about the breaker of `integration`, as `from>to`. */
function transitions(integration: string): string[] {
  return processes
    .flatMap((p) => p.output().split('\n'))
    .filter((line) => line.includes('"circuitTo"') && line.includes(`"integration":"${integration}"`))
    .map((line) => JSON.parse(line) as { circuitFrom: string; circuitTo: string; time: string })
    .sort((a, b) => a.time.localeCompare(b.time))
    .map((l) => `${l.circuitFrom}>${l.circuitTo}`);
}

const between = (calls: StubRequest[], from: number, to: number) => calls.filter((r) => r.at > from && r.at < to);
/** Bounds included: a probe may arrive in the very millisecond the breaker half-opens, and be answered in the one it re-opens. */
const within = (calls: StubRequest[], from: number, to: number) => calls.filter((r) => r.at >= from && r.at <= to);

it('opens after N failures across both processes, makes no call while open, probes, re-opens, then closes and drains', async () => {
  const ids = await Promise.all(Array.from({ length: 8 }, (_, n) => jobs.submit('flaky.ping', { n })));
  const state = () => readCircuitState(redis, keys, 'flaky');

  const first = await waitFor(async () => ((await state()).state === 'open' ? state() : undefined), { what: 'the breaker to open' });
  expect(first.failures).toBe(THRESHOLD);

  // While open, jobs wait as deferred with CIRCUIT_OPEN (retryAt = when it half-opens); none fails.
  const deferred = await waitFor(
    async () => {
      const records = (await Promise.all(ids.map((id) => jobs.store.get(id)))) as JobRecord[];
      expect(records.filter((r) => r.status === 'failed')).toEqual([]);
      return records.find((r) => r.status === 'deferred' && r.error?.code === 'CIRCUIT_OPEN');
    },
    { timeoutMs: RECOVERY_MS, what: 'a job deferred by the open breaker' },
  );
  expect(deferred.error).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: true });
  expect(Math.abs(Date.parse(deferred.error!.retryAt!) - first.openUntil!)).toBeLessThan(250);

  // The probe at the end of the first open period fails: open again, for a full recovery time.
  const second = await waitFor(
    async () => {
      const now: CircuitSnapshot = await state();
      return now.state === 'open' && now.openedAt! > first.openedAt! ? now : undefined;
    },
    { timeoutMs: RECOVERY_MS + 3000, what: 'the failed probe to re-open the breaker' },
  );
  flakyMode = 'ok';

  const finished = await Promise.all(ids.map((id) => jobs.settled(id, RECOVERY_MS + 8000)));
  expect(finished.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));
  expect((await state()).state).toBe('closed');

  const calls = stub.requests.filter((r) => r.path.startsWith('/flaky'));
  expect(calls.filter((r) => r.at <= first.openedAt!).length).toBeGreaterThanOrEqual(THRESHOLD);
  // Calls already on their way when it opened (at most 3 more: 2 processes × concurrency 2) may land
  // just after; nothing is started while it is open.
  expect(between(calls, first.openedAt!, first.openUntil!).length).toBeLessThanOrEqual(3);
  expect(between(calls, first.openedAt! + 300, first.openUntil!)).toEqual([]);
  // Exactly one probe while half-open, then nothing during the second open period.
  expect(within(calls, first.openUntil!, second.openedAt!)).toHaveLength(1);
  expect(between(calls, second.openedAt!, second.openUntil!)).toEqual([]);
  // After the second recovery: the probe, then the backlog; every call succeeded.
  const afterwards = calls.filter((r) => r.at >= second.openUntil!);
  expect(afterwards).toHaveLength(ids.length);

  // Deferrals spent no attempt: every attempt is one upstream call.
  expect(finished.reduce((sum, j) => sum + j.attempts, 0)).toBe(calls.length);
  // Both processes met the failing upstream, and each transition was logged once in all.
  for (const p of processes) expect(p.output()).toMatch(/"integration":"flaky"[^\n]*"status":500/);
  expect(transitions('flaky')).toEqual(['closed>open', 'open>half_open', 'half_open>open', 'open>half_open', 'half_open>closed']);
}, 30_000);

it('never opens on a storm of 4xx answers and 429s', async () => {
  const ids = await Promise.all(Array.from({ length: 12 }, (_, n) => jobs.submit('picky.ping', { n })));
  const finished = await Promise.all(ids.map((id) => jobs.settled(id)));

  expect(new Set(finished.map((j) => j.status))).toEqual(new Set(['failed']));
  expect(new Set(finished.map((j) => j.error?.code))).toEqual(new Set(['VALIDATION_ERROR', 'NOT_FOUND', 'CONFLICT']));
  expect(stub.count((r) => r.path.startsWith('/picky'))).toBe(ids.length + 3);
  expect(await readCircuitState(redis, keys, 'picky')).toEqual({ state: 'closed', failures: 0 });
  expect(transitions('picky')).toEqual([]);
}, 20_000);
