import { LuaScript } from '@broker/redis/lua-script';
import { namedConnection } from '@broker/shared/config/schema';
import { DEADLINE_BUCKET_MS, MAX_RETRY_AFTER_MS } from '@broker/tools';
import type { RedisClient } from '@broker/redis/connection';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { RedisKeys } from '@broker/redis/keys';

/**
 * Decides, atomically for every worker process, whether one more upstream call
 * of an integration may start now.
 *
 * Rate limits are sliding windows (docs/integrations.md#limits-and-the-circuit-breaker): at no moment may more than
 * `max` calls have started within the last `durationMs`. Each window is a
 * sorted set of calls by their stamp (below); a call is admitted only when the set, pruned
 * to the window, holds fewer than `max` entries, and is then recorded in the
 * same script. BullMQ's stock limiter counts fixed windows that start at the
 * first job, which lets up to ~2·max calls into one sliding window.
 *
 * Times come from Redis (`TIME`), so clocks of worker hosts do not matter.
 *
 * An admitted call is stamped at the latest moment it could still be written
 * (its admission plus the exchange's deadline and a margin: a slow connect, a
 * proxy's CONNECT), so it keeps its slot however long it takes to leave, and
 * is re-stamped with the moment its answer came back (`settled`), which is
 * always after the upstream saw it: every call counts from its sending until a
 * window after its answer.
 *
 * KEYS: integration pause, connection pause, integration window, connection window: one hash slot
 * (`{int:<integration>}`), so this runs on a Redis Cluster. Every key is always
 * passed (an empty key name would hash to another slot). ARGV: max and window
 * ms of the integration, then of the connection, member, whether each window
 * applies ('1'/'0'), and the hold ms (see inFlightHoldMs).
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {1, paused} end
paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {4, paused} end
local hold = tonumber(ARGV[8])
local function wait_for(key, max, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < max then return 0 end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  -- A call still on its way frees its slot a window after its answer, at the earliest now.
  return math.max(1, math.min(tonumber(oldest[2]), now) + window - now + 1)
end
if ARGV[6] == '1' then
  local w = wait_for(KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]))
  if w > 0 then return {2, w} end
end
if ARGV[7] == '1' then
  local w = wait_for(KEYS[4], tonumber(ARGV[3]), tonumber(ARGV[4]))
  if w > 0 then return {3, w} end
end
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[3], now + hold, ARGV[5])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]) + hold)
end
if ARGV[7] == '1' then
  redis.call('ZADD', KEYS[4], now + hold, ARGV[5])
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[4]) + hold)
end
return {0, 0}
`);

/**
 * Re-times an admitted call to the moment it was answered. KEYS: integration
 * window, connection window. ARGV: member, integration on, connection on,
 * integration window ms, connection window ms. The call is (re-)added even when
 * its admission entry was pruned meanwhile (an answer later than the window):
 * every call counts until a window after its answer, however late that is.
 * The window's key then lives at least a window past the answer: set at the
 * last admission, its expiry could otherwise drop a call answered later
 * together with the whole window.
 */
const SENT = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function restamp(key, window)
  redis.call('ZADD', key, now, ARGV[1])
  if redis.call('PTTL', key) < window then redis.call('PEXPIRE', key, window) end
end
if ARGV[2] == '1' then restamp(KEYS[1], tonumber(ARGV[4])) end
if ARGV[3] == '1' then restamp(KEYS[2], tonumber(ARGV[5])) end
return 0
`);

/** Sets a pause (the integration's or one connection's), never shortening one already in force. */
const PAUSE = new LuaScript(`
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return redis.call('PTTL', KEYS[1])
`);

/** Who must wait: every job of the integration, or only the jobs of one connection (one credential). */
export type HoldScope = 'integration' | 'connection';

export type GateVerdict =
  | { admitted: true }
  /** `integration`: the whole integration must wait (its pause or its window); `connection`: only this connection. */
  | { admitted: false; scope: HoldScope; waitMs: number; reason: 'paused' | 'rate_limit' };

/**
 * What a throttle on one connection's credential holds back (docs/integrations.md#keyed-limits-per-connection): APIs
 * meter each credential on its own, so a 429 pauses that connection only; an
 * integration with no named connections has one credential, so the pause is
 * the whole integration's (and the queue can be held rather than each job).
 */
export function throttleScope(integration: IntegrationConfig): HoldScope {
  return integration.connections && Object.keys(integration.connections).length > 0 ? 'connection' : 'integration';
}

/**
 * How much later than its admission a call still on its way is counted: a
 * call is timed when admitted but counted by the upstream when it arrives,
 * and two calls can be delayed differently on the way (event loop stalls,
 * connection setup). Answered calls are counted from their answer instead.
 */
export function admissionMargin(durationMs: number): number {
  return Math.min(50, Math.max(5, Math.round(durationMs * 0.02)));
}

/**
 * How long after its admission a try's first request may still start its
 * exchange and use that admission (asked with the job's claim). Every ended
 * request re-stamps its entry at its end, so this only matters for a request
 * whose worker died on the way; covering it costs crashed tries' entries this
 * much more time in the window. Longer (a credential refresh in between), the
 * admission is given back and asked again. @defaultValue 1000
 */
export const PRE_ADMISSION_FRESH_MS = 1000;

/**
 * How far ahead an admitted call is stamped: until it is answered, it must
 * count as sent at any moment it could still be written — its exchange may
 * start up to {@link PRE_ADMISSION_FRESH_MS} after the admission and is cut
 * at its deadline (`timeoutMs`, shared in buckets of
 * {@link DEADLINE_BUCKET_MS}) — plus the admission margin.
 */
export function inFlightHoldMs(integration: IntegrationConfig, margin: number): number {
  return PRE_ADMISSION_FRESH_MS + integration.timeoutMs + DEADLINE_BUCKET_MS + margin;
}

export class CallGate {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async acquire(integrationName: string, integration: IntegrationConfig, connection: string, member: string): Promise<GateVerdict> {
    const limit = integration.rateLimit;
    const perConnection = namedConnection(integration, connection)?.rateLimit ?? limit?.perConnection;
    const [verdict, waitMs] = await ACQUIRE.run<[number, number]>(
      this.redis,
      [
        this.keys.pause(integrationName),
        this.keys.connectionPause(integrationName, connection),
        this.keys.rateWindow(integrationName),
        this.keys.connectionRateWindow(integrationName, connection),
      ],
      [
        String(limit?.max ?? 0),
        String(limit?.durationMs ?? 0),
        String(perConnection?.max ?? 0),
        String(perConnection?.durationMs ?? 0),
        member,
        limit ? '1' : '0',
        perConnection ? '1' : '0',
        // One margin for both windows: the larger one's (a call is one journey to the upstream).
        String(inFlightHoldMs(integration, Math.max(limit ? admissionMargin(limit.durationMs) : 0, perConnection ? admissionMargin(perConnection.durationMs) : 0))),
      ],
    );
    switch (verdict) {
      case 0:
        return { admitted: true };
      case 1:
        return { admitted: false, scope: 'integration', waitMs, reason: 'paused' };
      case 2:
        return { admitted: false, scope: 'integration', waitMs, reason: 'rate_limit' };
      case 4:
        return { admitted: false, scope: 'connection', waitMs, reason: 'paused' };
      default:
        return { admitted: false, scope: 'connection', waitMs, reason: 'rate_limit' };
    }
  }

  /**
   * Moves an admitted call's entry to the time its answer (or failure) came
   * back. Admission and arrival upstream can be tens of milliseconds apart,
   * and unevenly so (a cold worker opening sockets, a busy event loop):
   * counted at admission, a burst admitted together but sent late lets the
   * next window's burst arrive upstream less than a window after it. An
   * answer always comes after the call reached the upstream, so counted from
   * the answer, the next admission is at least a window after the upstream saw
   * this call, whatever the delays. The price is one upstream latency per
   * window. A no-op for integrations without limits.
   */
  async settled(integrationName: string, integration: IntegrationConfig, connection: string, member: string): Promise<void> {
    const limit = integration.rateLimit;
    const perConnection = namedConnection(integration, connection)?.rateLimit ?? limit?.perConnection;
    if (!limit && !perConnection) return;
    await SENT.run(
      this.redis,
      [this.keys.rateWindow(integrationName), this.keys.connectionRateWindow(integrationName, connection)],
      [member, limit ? '1' : '0', perConnection ? '1' : '0', String(limit?.durationMs ?? 0), String(perConnection?.durationMs ?? 0)],
    );
  }

  /** Gives back a slot taken by `acquire` for a try that then made no call (both windows share a slot: one MULTI). */
  async release(integrationName: string, connection: string, member: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.rateWindow(integrationName), member).zrem(this.keys.connectionRateWindow(integrationName, connection), member).exec();
  }

  /**
   * Stops every worker from calling the integration — or, with `connection`,
   * from using that connection's credential — for `ms` (a 429 or
   * Retry-After), at least 1 ms and at most 10 minutes. Returns the pause in force.
   */
  async pause(integrationName: string, ms: number, reason: string, connection?: string): Promise<number> {
    const key = connection === undefined ? this.keys.pause(integrationName) : this.keys.connectionPause(integrationName, connection);
    const bounded = Math.min(Math.max(1, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
    return PAUSE.run<number>(this.redis, [key], [String(bounded), reason]);
  }
}
