import { Redis } from 'ioredis';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { JobSubmitter, testLogger } from '../helpers/broker';
import { maxInSlidingWindow, startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * Rate limits hold across processes: the sliding window is enforced for two
 * worker processes together, and a Retry-After stops every call until it ends.
 */
const prefix = uniquePrefix('limits');
let stub: StubServer;
let redis: Redis;
let jobs: JobSubmitter;
const processes: RunningProcess[] = [];
let inProcess: WorkerApp | undefined;

const LIMIT = { max: 10, durationMs: 1000 };

function rawConfig(baseUrl: string) {
  return {
    integrations: {
      limited: {
        baseUrl,
        rateLimit: LIMIT,
        concurrency: 8,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        tools: [{ name: 'limited.ping', method: 'GET', path: '/limited/{n}', input: { type: 'object' } }],
      },
      throttled: {
        baseUrl,
        concurrency: 4,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
        tools: [{ name: 'throttled.ping', method: 'GET', path: '/throttled/{n}', input: { type: 'object' } }],
      },
    },
  };
}

beforeAll(async () => {
  stub = await StubServer.start((req) => {
    // The very first call to /throttled is told to wait 1 s.
    if (req.path.startsWith('/throttled') && stub.count((r) => r.path.startsWith('/throttled')) === 1) {
      return { status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down' } };
    }
    return { status: 200, body: { ok: true } };
  });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  jobs = new JobSubmitter(redis, prefix, parseConfig(rawConfig(stub.url)));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopApp(p)));
  await inProcess?.close();
  await jobs.close();
  await stub.close();
  redis.disconnect();
  await dropPrefix(prefix);
});

it('never lets more than `max` calls start in any sliding window, across two worker processes', async () => {
  const configFile = writeConfigFile(rawConfig(stub.url));
  const env = { BROKER_CONFIG: configFile, BROKER_REDIS_PREFIX: prefix };
  processes.push(...(await Promise.all([startApp('worker', env, 'worker ready'), startApp('worker', env, 'worker ready')])));

  const total = 45;
  const ids = await Promise.all(Array.from({ length: total }, (_, n) => jobs.submit('limited.ping', { n })));
  const finished = await Promise.all(ids.map((id) => jobs.settled(id, 30_000)));

  expect(finished.every((j) => j.status === 'succeeded')).toBe(true);
  const arrivals = stub.requests.filter((r) => r.path.startsWith('/limited')).map((r) => r.at);
  expect(arrivals).toHaveLength(total);
  expect(maxInSlidingWindow(arrivals, LIMIT.durationMs)).toBeLessThanOrEqual(LIMIT.max);
  // Both processes took part: each logs its own upstream calls.
  for (const p of processes) expect(p.output()).toContain('"integration":"limited"');
}, 60_000);

it('makes no call to an integration during a Retry-After window, and the 429 spends no attempt', async () => {
  inProcess = createWorkerApp({
    config: parseConfig(rawConfig(stub.url)),
    redis,
    prefix,
    secrets: envSecretsProvider({}),
    logger: testLogger('worker'),
  });
  await inProcess.ready();

  const first = await jobs.submit('throttled.ping', { n: 0 });
  // Submit the others while the pause is in force: they must wait it out.
  await waitFor(async () => (await jobs.store.get(first))?.status === 'deferred', { what: 'the 429 deferral' });
  const ids = [first, ...(await Promise.all([1, 2, 3, 4].map((n) => jobs.submit('throttled.ping', { n }))))];
  const finished = await Promise.all(ids.map((id) => jobs.settled(id)));

  expect(finished.every((j) => j.status === 'succeeded')).toBe(true);
  expect(finished[0]!.attempts).toBe(1);
  const calls = stub.requests.filter((r) => r.path.startsWith('/throttled'));
  const throttledAt = calls[0]!.at;
  const during = calls.slice(1).filter((r) => r.at < throttledAt + 1000);
  expect(during).toEqual([]);
  expect(calls).toHaveLength(6);
  // The others really were held back: they were queued before the window ended.
  expect(calls[1]!.at).toBeGreaterThanOrEqual(throttledAt + 1000);
}, 30_000);
