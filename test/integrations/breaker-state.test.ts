import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger, createMetrics, parseConfig, readCircuitState, redisKeys, type IntegrationConfig } from '@broker/shared';
import { errorFromResponse, errorFromTransport, ToolError } from '@broker/tools';
import { breakerOutcome, CircuitBreaker, HALF_OPEN_POLL_MS, probeLeaseMs, type BreakerTicket } from '@broker/worker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

/**
 * The breaker's state machine against a real Redis, one process: what counts
 * as a failure, the single probe and its lease, and the side-effect-free read
 * the api uses. The cross-process behaviour is in breaker.test.ts.
 */
const prefix = uniquePrefix('breaker-state');
const keys = redisKeys(prefix);
let redis: Redis;
const lines: Record<string, unknown>[] = [];
const out = new PassThrough();
out.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
});
const log = createLogger({ name: 'breaker-test', level: 'info', destination: out });
const metrics = createMetrics({ defaultMetrics: false });

const RECOVERY_MS = 400;
function integration(): IntegrationConfig {
  return parseConfig({
    integrations: { x: { baseUrl: 'http://127.0.0.1:9', timeoutMs: 100, circuitBreaker: { failureThreshold: 3, recoveryTimeoutMs: RECOVERY_MS } } },
  }).integrations.x!;
}

const fail500 = () => errorFromResponse({ status: 500, headers: {}, body: '' });
const transitions = (name: string) => lines.filter((l) => l.integration === name && l.circuitTo).map((l) => `${l.circuitFrom}>${l.circuitTo}`);
const gauge = async (name: string) => (await metrics.circuitState.get()).values.find((v) => v.labels.integration === name)?.value;

async function admitted(breaker: CircuitBreaker, name: string, token: string): Promise<Extract<BreakerTicket, { admitted: true }>> {
  const ticket = await breaker.admit(name, integration(), token, log);
  if (!ticket.admitted) throw new Error(`${token} not admitted (${ticket.state})`);
  return ticket;
}

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await dropPrefix(prefix);
});

describe('breakerOutcome', () => {
  it('counts 5xx, timeouts and network errors; never a 4xx or a 429', () => {
    expect(breakerOutcome(undefined)).toBe('success');
    for (const status of [500, 502, 503, 504, 501]) expect(breakerOutcome(errorFromResponse({ status, headers: {}, body: '' }))).toBe('failure');
    expect(breakerOutcome(errorFromTransport({ code: 'ECONNABORTED', message: 'timeout' }, false))).toBe('failure');
    expect(breakerOutcome(errorFromTransport({ code: 'ECONNABORTED', message: 'timeout' }, true))).toBe('failure'); // OUTCOME_UNKNOWN
    expect(breakerOutcome(errorFromTransport({ code: 'ECONNREFUSED', message: 'refused' }, false))).toBe('failure');
    for (const status of [400, 401, 403, 404, 409, 422]) expect(breakerOutcome(errorFromResponse({ status, headers: {}, body: '' }))).toBe('success');
    expect(breakerOutcome(errorFromResponse({ status: 429, headers: { 'retry-after': '1' }, body: '' }))).toBe('neutral');
    expect(breakerOutcome(new ToolError('AUTHENTICATION_FAILED', { message: 'secret not set' }))).toBe('neutral');
  });
});

describe('CircuitBreaker', () => {
  it('opens after `failureThreshold` consecutive failures; a success in between starts the count again', async () => {
    const breaker = new CircuitBreaker(redis, keys, metrics);
    for (const settle of [fail500(), fail500(), undefined, fail500(), fail500()]) {
      await (await admitted(breaker, 'a', 't')).settle(settle);
    }
    expect(await readCircuitState(redis, keys, 'a')).toMatchObject({ state: 'closed', failures: 2 });
    // A 4xx shows the upstream alive and starts the count again; a 429 neither counts nor resets.
    await (await admitted(breaker, 'a', 't')).settle(errorFromResponse({ status: 404, headers: {}, body: '' }));
    expect((await readCircuitState(redis, keys, 'a')).failures).toBe(0);
    for (let i = 0; i < 2; i++) await (await admitted(breaker, 'a', 't')).settle(fail500());
    await (await admitted(breaker, 'a', 't')).settle(errorFromResponse({ status: 429, headers: {}, body: '' }));
    expect(await readCircuitState(redis, keys, 'a')).toMatchObject({ state: 'closed', failures: 2 });

    const before = Date.now();
    await (await admitted(breaker, 'a', 't')).settle(fail500());
    const opened = await readCircuitState(redis, keys, 'a');
    expect(opened).toMatchObject({ state: 'open', failures: 3 });
    expect(opened.openUntil! - opened.openedAt!).toBe(RECOVERY_MS);
    expect(await gauge('a')).toBe(2);

    const held = await breaker.admit('a', integration(), 'u', log);
    expect(held.admitted).toBe(false);
    if (held.admitted) return;
    expect(held.state).toBe('open');
    expect(held.waitMs).toBeGreaterThan(RECOVERY_MS - (Date.now() - before) - 50);
    expect(held.waitMs).toBeLessThanOrEqual(RECOVERY_MS);
    expect(held.error.toJobError()).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: true });
    expect(transitions('a')).toEqual(['closed>open']);
  });

  it('half-opens after the recovery time with one probe at a time; a probe success closes it', async () => {
    const breaker = new CircuitBreaker(redis, keys, metrics);
    const late = await admitted(breaker, 'b', 'late'); // a call started while closed, answered later
    for (let i = 0; i < 3; i++) await (await admitted(breaker, 'b', 't')).settle(fail500());
    const { openUntil } = await readCircuitState(redis, keys, 'b');

    // The read has no side effect: past the recovery time it reports half_open, and the hash still says open.
    await waitFor(async () => (await readCircuitState(redis, keys, 'b')).state === 'half_open', { what: 'recovery time' });
    expect(await redis.hget(keys.circuit('b'), 'state')).toBe('open');
    expect(Date.now()).toBeGreaterThanOrEqual(openUntil! - 5);

    const probe = await admitted(breaker, 'b', 'probe-1');
    const other = await breaker.admit('b', integration(), 'other', log);
    expect(other).toMatchObject({ admitted: false, state: 'half_open' });
    if (!other.admitted) expect(other.waitMs).toBeLessThanOrEqual(HALF_OPEN_POLL_MS);
    expect(await gauge('b')).toBe(1);

    // Only the probe decides: the late answer of a call started before the breaker opened changes nothing.
    await late.settle(fail500());
    expect(await readCircuitState(redis, keys, 'b')).toMatchObject({ state: 'half_open' });
    await probe.settle();
    expect(await readCircuitState(redis, keys, 'b')).toMatchObject({ state: 'closed', failures: 0 });
    expect((await breaker.admit('b', integration(), 'next', log)).admitted).toBe(true);
    expect(await gauge('b')).toBe(0);
    expect(transitions('b')).toEqual(['closed>open', 'open>half_open', 'half_open>closed']);
  });

  it('re-opens on a probe failure, for another full recovery time', async () => {
    const breaker = new CircuitBreaker(redis, keys, metrics);
    for (let i = 0; i < 3; i++) await (await admitted(breaker, 'c', 't')).settle(fail500());
    const first = await readCircuitState(redis, keys, 'c');
    await waitFor(async () => (await readCircuitState(redis, keys, 'c')).state === 'half_open', { what: 'recovery time' });
    const probe = await admitted(breaker, 'c', 'probe');
    await probe.settle(errorFromTransport({ code: 'ECONNABORTED', message: 'timeout' }, false));
    const again = await readCircuitState(redis, keys, 'c');
    expect(again.state).toBe('open');
    expect(again.openedAt!).toBeGreaterThan(first.openedAt!);
    expect(again.openUntil! - again.openedAt!).toBe(RECOVERY_MS);
    expect(transitions('c')).toEqual(['closed>open', 'open>half_open', 'half_open>open']);
  });

  it('frees the probe slot when the probe makes no call, and when its lease lapses (a dead worker)', async () => {
    const breaker = new CircuitBreaker(redis, keys, metrics);
    for (let i = 0; i < 3; i++) await (await admitted(breaker, 'd', 't')).settle(fail500());
    await waitFor(async () => (await readCircuitState(redis, keys, 'd')).state === 'half_open', { what: 'recovery time' });

    // Held back by the call gate: gives the slot back without a verdict.
    const gated = await admitted(breaker, 'd', 'gated');
    expect((await breaker.admit('d', integration(), 'x', log)).admitted).toBe(false);
    await gated.release();
    expect(await readCircuitState(redis, keys, 'd')).toMatchObject({ state: 'half_open' });

    // A probe whose worker died never reports: the next probe goes once the lease lapses.
    const takenAt = Date.now();
    const dies = await admitted(breaker, 'd', 'dies');
    const next = await waitFor(
      async () => {
        const ticket = await breaker.admit('d', integration(), 'next', log);
        return ticket.admitted ? ticket : undefined;
      },
      { timeoutMs: 5000, what: 'the lease to lapse' },
    );
    expect(Date.now() - takenAt).toBeGreaterThanOrEqual(probeLeaseMs(integration()) - 20);
    // The lapsed probe's report no longer decides anything; the live one's does.
    await dies.settle(fail500());
    expect((await readCircuitState(redis, keys, 'd')).state).toBe('half_open');
    await next.settle();
    expect((await readCircuitState(redis, keys, 'd')).state).toBe('closed');
  });
});
