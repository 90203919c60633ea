import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '@broker/shared/logger';
import { createMetrics } from '@broker/shared/metrics';
import { parseConfig } from '@broker/shared/config/load';
import { readCircuitState } from '@broker/redis/limits/circuit-state';
import { redisKeys } from '@broker/redis/keys';
import { VaultError } from '@broker/tools/secrets/vault';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import { asToolError, errorFromResponse, ToolError } from '@broker/tools';
import { breakerOutcome, CircuitBreaker, HALF_OPEN_POLL_MS, probeLeaseMs, type BreakerTicket } from '@broker/worker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';

/**
 * The breaker's state machine against a real Redis, one process: what counts
 * as a failure, the single probe and its lease, and the side-effect-free read
 * the api uses. The cross-process behaviour is in breaker.serial.test.ts.
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

/** Short waits before a call, so a probe's lease (probeLeaseMs) is 1.4 s here rather than 41 s. */
const TIMINGS = { gateWaitMs: 200, credentialsMs: 100 };
const newBreaker = () => new CircuitBreaker(redis, keys, metrics, TIMINGS);

const fail500 = () => errorFromResponse({ status: 500, headers: {}, body: '' });
/** What the HTTP layer makes of a timeout, and of a refused connection. */
const timedOut = () => new ToolError('TIMEOUT', { message: 'upstream did not answer in time', stage: 'exchange' });
const refused = () => new ToolError('UPSTREAM_ERROR', { message: 'network error before sending: ECONNREFUSED', retryable: true, stage: 'connect' });
/** Vault down: what asToolError makes of a VaultError. Nothing left the broker. */
const vaultDown = () => asToolError(new VaultError('connect ECONNREFUSED 127.0.0.1:8200'));
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
    expect(breakerOutcome(timedOut())).toBe('failure');
    expect(breakerOutcome(refused())).toBe('failure');
    expect(breakerOutcome(new ToolError('UPSTREAM_ERROR', { message: 'socket hang up', retryable: true, stage: 'exchange' }))).toBe('failure');
    expect(breakerOutcome(new ToolError('OUTCOME_UNKNOWN', { message: 'timed out after the request was sent', stage: 'exchange' }))).toBe('failure');
    for (const status of [400, 401, 403, 404, 409, 422]) expect(breakerOutcome(errorFromResponse({ status, headers: {}, body: '' }))).toBe('success');
    expect(breakerOutcome(errorFromResponse({ status: 429, headers: { 'retry-after': '1' }, body: '' }))).toBe('neutral');
    expect(breakerOutcome(new ToolError('AUTHENTICATION_FAILED', { message: 'secret not set' }))).toBe('neutral');
    // The upstream answered the TLS handshake (it is up) and refused our client certificate.
    expect(breakerOutcome(new ToolError('AUTHENTICATION_FAILED', { message: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', retryable: false, stage: 'connect' }))).toBe('neutral');
  });

  it('judges a lookup that could not tell (OUTCOME_UNKNOWN) by the answer it got, not by its code', () => {
    const couldNotTell = (facts: { upstreamStatus?: number; stage?: 'connect' | 'exchange' } = {}) =>
      new ToolError('OUTCOME_UNKNOWN', { message: 'looking it up by its reference could not tell', retryable: false, ...facts });
    for (const upstreamStatus of [400, 401, 403, 422]) expect(breakerOutcome(couldNotTell({ upstreamStatus }))).toBe('success');
    for (const upstreamStatus of [500, 503]) expect(breakerOutcome(couldNotTell({ upstreamStatus }))).toBe('failure');
    expect(breakerOutcome(couldNotTell({ stage: 'exchange' }))).toBe('failure');
    expect(breakerOutcome(couldNotTell({ stage: 'connect' }))).toBe('failure');
    // Answers it could not tell from: a body that is not JSON, a listing too long to read to its end (GitHub, HubSpot).
    expect(breakerOutcome(couldNotTell())).toBe('neutral');
    expect(breakerOutcome(new ToolError('OUTCOME_UNKNOWN', { message: 'read 1000 issues of acme/web without finding the reference, and stopped' }))).toBe('neutral');
  });

  it('never counts a failure from before any request left the broker (stage `prepare`)', () => {
    expect(vaultDown()).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'prepare' });
    expect(breakerOutcome(vaultDown())).toBe('neutral');
    expect(breakerOutcome(new ToolError('UPSTREAM_ERROR', { message: 'secrets provider: sealed', retryable: true, stage: 'prepare' }))).toBe('neutral');
    // The token endpoint's status is not the upstream's.
    expect(breakerOutcome(new ToolError('UPSTREAM_ERROR', { message: 'token endpoint answered 503', upstreamStatus: 503, stage: 'prepare' }))).toBe('neutral');
    expect(breakerOutcome(new ToolError('TIMEOUT', { message: 'token endpoint did not answer', stage: 'prepare' }))).toBe('neutral');
    expect(breakerOutcome(new ToolError('OUTCOME_UNKNOWN', { message: 'cancelled', stage: 'prepare' }))).toBe('neutral');
    expect(breakerOutcome(new ToolError('RATE_LIMITED', { message: 'the integration is paused', stage: 'prepare' }))).toBe('neutral');
  });
});

describe('CircuitBreaker', () => {
  it('opens after `failureThreshold` consecutive failures; a success in between starts the count again', async () => {
    const breaker = newBreaker();
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
    const breaker = newBreaker();
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
    const breaker = newBreaker();
    for (let i = 0; i < 3; i++) await (await admitted(breaker, 'c', 't')).settle(fail500());
    const first = await readCircuitState(redis, keys, 'c');
    await waitFor(async () => (await readCircuitState(redis, keys, 'c')).state === 'half_open', { what: 'recovery time' });
    const probe = await admitted(breaker, 'c', 'probe');
    await probe.settle(timedOut());
    const again = await readCircuitState(redis, keys, 'c');
    expect(again.state).toBe('open');
    expect(again.openedAt!).toBeGreaterThan(first.openedAt!);
    expect(again.openUntil! - again.openedAt!).toBe(RECOVERY_MS);
    expect(transitions('c')).toEqual(['closed>open', 'open>half_open', 'half_open>open']);
  });

  it('frees the probe slot when the probe makes no call, and when its lease lapses (a dead worker)', async () => {
    const breaker = newBreaker();
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
    expect(Date.now() - takenAt).toBeGreaterThanOrEqual(probeLeaseMs(integration(), TIMINGS) - 20);
    // The lapsed probe can no longer extend a lease that is now the next probe's...
    const nextUntil = await redis.hget(keys.circuit('d'), 'probeUntil');
    await dies.renew();
    expect(await redis.hget(keys.circuit('d'), 'probeUntil')).toBe(nextUntil);
    expect(await redis.hget(keys.circuit('d'), 'probe')).toBe('next');
    // ...and its report no longer decides anything; the live one's does.
    await dies.settle(fail500());
    expect((await readCircuitState(redis, keys, 'd')).state).toBe('half_open');
    await next.settle();
    expect((await readCircuitState(redis, keys, 'd')).state).toBe('closed');
  });

  it('counts only consecutive failures when the tries were admitted together and settle interleaved', async () => {
    const breaker = newBreaker();
    // A worker's concurrent slots: all admitted while no failure is counted, answered in this order.
    const order = [fail500(), fail500(), undefined, fail500(), fail500(), undefined, fail500(), fail500()];
    const tickets = await Promise.all(order.map((_, i) => admitted(breaker, 'e', `e${i}`)));
    for (const [i, outcome] of order.entries()) await tickets[i]!.settle(outcome);
    expect(await readCircuitState(redis, keys, 'e')).toEqual({ state: 'closed', failures: 2 });
    expect(transitions('e')).toEqual([]);

    // Three failures in a row among tries admitted together, answered at once, open it.
    const [a, b, c, late] = await Promise.all(['a', 'b', 'c', 'late'].map((t) => admitted(breaker, 'e2', t)));
    await Promise.all([a!.settle(timedOut()), b!.settle(fail500()), c!.settle(refused())]);
    expect(await readCircuitState(redis, keys, 'e2')).toMatchObject({ state: 'open', failures: 3 });
    // A success of a try admitted before it opened does not close it: only a probe does.
    await late!.settle();
    expect(await readCircuitState(redis, keys, 'e2')).toMatchObject({ state: 'open', failures: 3 });
    expect(transitions('e2')).toEqual(['closed>open']);
  });

  it('never opens on failures before anything was sent (Vault down), and a probe failing so frees its slot', async () => {
    const breaker = newBreaker();
    const threshold = integration().circuitBreaker.failureThreshold;
    const tickets = await Promise.all(Array.from({ length: threshold + 2 }, (_, i) => admitted(breaker, 'p', `p${i}`)));
    for (const ticket of tickets) await ticket.settle(vaultDown());
    expect(await readCircuitState(redis, keys, 'p')).toEqual({ state: 'closed', failures: 0 });
    // Neither does it break a run of real failures: two, Vault down, one more makes three in a row.
    for (const error of [fail500(), fail500(), vaultDown(), fail500()]) await (await admitted(breaker, 'p', 't')).settle(error);
    expect(await readCircuitState(redis, keys, 'p')).toMatchObject({ state: 'open', failures: 3 });

    await waitFor(async () => (await readCircuitState(redis, keys, 'p')).state === 'half_open', { what: 'recovery time' });
    const probe = await admitted(breaker, 'p', 'probe');
    await probe.settle(vaultDown());
    // No verdict on the upstream: still half-open, and the next try is the probe at once.
    expect(await readCircuitState(redis, keys, 'p')).toMatchObject({ state: 'half_open' });
    await (await admitted(breaker, 'p', 'probe-2')).settle();
    expect(await readCircuitState(redis, keys, 'p')).toMatchObject({ state: 'closed', failures: 0 });
    expect(transitions('p')).toEqual(['closed>open', 'open>half_open', 'half_open>closed']);
  });

  it("renew() keeps a slow probe's slot past its first lease; released, the next try probes", async () => {
    const breaker = newBreaker();
    for (let i = 0; i < 3; i++) await (await admitted(breaker, 'r', 't')).settle(fail500());
    await waitFor(async () => (await readCircuitState(redis, keys, 'r')).state === 'half_open', { what: 'recovery time' });
    const probe = await admitted(breaker, 'r', 'probe');
    const firstLease = Number(await redis.hget(keys.circuit('r'), 'probeUntil'));

    // A probe of many calls renews before each; meanwhile every other try waits, also past the first lease.
    const letThrough: string[] = [];
    let n = 0;
    await waitFor(
      async () => {
        await probe.renew();
        const other = await breaker.admit('r', integration(), `other-${n++}`, log);
        if (other.admitted) letThrough.push(`other-${n}`);
        const [seconds] = await redis.time();
        return Number(seconds) * 1000 > firstLease + 200;
      },
      { timeoutMs: probeLeaseMs(integration(), TIMINGS) + 3000, intervalMs: 100, what: 'the first lease to be long past' },
    );
    expect(letThrough).toEqual([]);
    expect(await redis.hget(keys.circuit('r'), 'probe')).toBe('probe');
    expect(Number(await redis.hget(keys.circuit('r'), 'probeUntil'))).toBeGreaterThan(firstLease);

    // Held back after all: the slot goes at once, to the next try.
    await probe.release();
    const next = await admitted(breaker, 'r', 'next');
    expect(await redis.hget(keys.circuit('r'), 'probe')).toBe('next');
    expect((await breaker.admit('r', integration(), 'after', log)).admitted).toBe(false);
    // A settled probe renews nothing.
    const nextUntil = await redis.hget(keys.circuit('r'), 'probeUntil');
    await probe.renew();
    expect(await redis.hget(keys.circuit('r'), 'probeUntil')).toBe(nextUntil);
    await next.settle();
    expect(await readCircuitState(redis, keys, 'r')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('costs one read-only script per success when there is nothing to reset, and nothing to renew a non-probe', async () => {
    const breaker = newBreaker();
    const circuit = keys.circuit('h');
    const marker = `${prefix}:monitor-marker`;
    // MONITOR lists every command Redis runs, those inside scripts included (source "lua").
    const monitor = await redis.monitor();
    const seen: { source: string; command: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.includes(circuit) || args.includes(marker)) seen.push({ source, command: args[0]!.toLowerCase() });
    });
    try {
      const sawMarker = async (count: number) => {
        await redis.exists(marker);
        return seen.filter((c) => c.command === 'exists').length >= count;
      };
      await waitFor(() => sawMarker(1), { what: 'MONITOR to start' });

      const tickets = await Promise.all([admitted(breaker, 'h', 'h1'), admitted(breaker, 'h', 'h2')]);
      for (const ticket of tickets) {
        await ticket.renew();
        await ticket.settle();
        await ticket.settle(fail500()); // a second report is ignored
      }
      const before = seen.filter((c) => c.command === 'exists').length;
      await waitFor(() => sawMarker(before + 1), { what: 'MONITOR to catch up' });

      const calls = seen.filter((c) => c.command !== 'exists');
      // Two admissions and two results; no script for renew, nothing written.
      expect(calls.filter((c) => c.source !== 'lua').map((c) => c.command)).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha']);
      expect(calls.filter((c) => c.source === 'lua').map((c) => c.command)).toEqual(['hmget', 'hmget', 'hmget', 'hmget']);
      expect(await redis.exists(circuit)).toBe(0);
    } finally {
      monitor.disconnect();
    }
  });
});
