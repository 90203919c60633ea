import type { RedisClient } from '@broker/redis/connection';
import { CIRCUIT_STATE_VALUE, type CircuitState } from '@broker/redis/limits/circuit-state';
import { LuaScript } from '@broker/redis/lua-script';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import { ToolError } from '@broker/tools';
import { TOKEN_REQUEST_TIMEOUT_MS } from '@broker/tools/oauth';

/*
 * One breaker per integration, shared by every worker process: its state is a
 * hash in Redis (layout in @broker/redis `CIRCUIT_FIELDS`), each transition is
 * one Lua script, and time is Redis' `TIME`, so two workers can never both
 * open it, both take the probe slot, or disagree about when it half-opens.
 *
 *   closed ──N consecutive failures──▶ open ──recoveryTimeoutMs──▶ half_open
 *     ▲                                  ▲                            │ one probe at a time
 *     └────────── probe succeeds ────────┼──────── probe fails ───────┘
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Before a try. KEYS: circuit. ARGV: token, probe lease ms, poll ms.
 * Returns {verdict, state, waitMs, transition}: `admit` (closed), `probe`
 * (half-open, this try holds the slot) or `wait`.
 */
const ADMIT = new LuaScript(`${NOW}
local h = redis.call('HMGET', KEYS[1], 'state', 'openUntil', 'probe', 'probeUntil')
local state = h[1] or 'closed'
if state == 'closed' then return {'admit', 'closed', 0, ''} end
local transition = ''
local probe, probeUntil = h[3], tonumber(h[4]) or 0
if state == 'open' then
  local openUntil = tonumber(h[2]) or 0
  if now < openUntil then return {'wait', 'open', openUntil - now, ''} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'changedAt', now)
  transition = 'open>half_open'
  probe = false
end
if probe and probeUntil > now then
  return {'wait', 'half_open', math.min(probeUntil - now, tonumber(ARGV[3])), transition}
end
redis.call('HSET', KEYS[1], 'probe', ARGV[1], 'probeUntil', now + tonumber(ARGV[2]))
return {'probe', 'half_open', 0, transition}
`);

/**
 * After a try. KEYS: circuit. ARGV: outcome (success|failure|neutral), probe
 * token ('' when the try was not a probe), failure threshold, recovery ms.
 * Returns {state, failures, transition}. Only the probe's result moves a
 * half-open breaker; answers of calls started before it opened are ignored.
 * A success on a closed breaker with no failures counted (the common case)
 * only reads: it writes nothing, so it is not replicated or appended to the AOF.
 */
const RECORD = new LuaScript(`${NOW}
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'probe')
local state = h[1] or 'closed'
local failures = tonumber(h[2]) or 0
local outcome = ARGV[1]
local function open(from)
  local recovery = tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now, 'openUntil', now + recovery, 'changedAt', now)
  redis.call('HDEL', KEYS[1], 'probe', 'probeUntil')
  return {'open', failures, from .. '>open'}
end
if state == 'closed' then
  if outcome == 'success' and failures > 0 then
    redis.call('HSET', KEYS[1], 'failures', 0)
    failures = 0
  elseif outcome == 'failure' then
    failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
    if failures >= tonumber(ARGV[3]) then return open('closed') end
  end
  return {'closed', failures, ''}
end
if state == 'half_open' and ARGV[2] ~= '' and h[3] == ARGV[2] then
  if outcome == 'success' then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'changedAt', now)
    redis.call('HDEL', KEYS[1], 'probe', 'probeUntil', 'openUntil')
    return {'closed', 0, 'half_open>closed'}
  elseif outcome == 'failure' then
    return open('half_open')
  end
  -- Neither verdict (a 429, or no call made): free the slot for the next probe.
  redis.call('HDEL', KEYS[1], 'probe', 'probeUntil')
end
return {state, failures, ''}
`);

/**
 * During a probe, before each upstream call. KEYS: circuit. ARGV: token, lease ms.
 * Returns 1 when this token still holds the probe (its lease now runs at least
 * `lease ms` from now), 0 when it does not: the breaker moved on (the probe was
 * settled, or its lease lapsed and another try took the slot), and a lease
 * that is no longer ours must not be extended.
 */
const RENEW = new LuaScript(`
local h = redis.call('HMGET', KEYS[1], 'state', 'probe', 'probeUntil')
if h[1] ~= 'half_open' or h[2] ~= ARGV[1] then return 0 end
${NOW}
local untilMs = now + tonumber(ARGV[2])
if untilMs > (tonumber(h[3]) or 0) then redis.call('HSET', KEYS[1], 'probeUntil', untilMs) end
return 1
`);

/**
 * While a probe is out, other tries look again this often rather than waiting
 * out its whole lease, so the backlog drains soon after the probe succeeds.
 * @defaultValue 200
 */
export const HALF_OPEN_POLL_MS = 200;

/**
 * How long a try may wait for the call gate before one of its calls (pages of
 * a listing, a resend). The same bound as the processor's
 * `MAX_IN_TRY_GATE_WAIT_MS` (tool-jobs/call-admission.ts), copied rather than
 * imported so the breaker does not depend on the processor; a worker that
 * changes its bound passes it in {@link ProbeTimings.gateWaitMs}.
 * @defaultValue 30000
 */
export const DEFAULT_GATE_WAIT_MS = 30_000;

/** Slack for the Redis round trips and event-loop delays around a call. */
const LEASE_SLACK_MS = 1000;

/** The longest waits a call of a probe may include besides the call itself, for its lease. */
export interface ProbeTimings {
  /**
   * Longest in-try wait for the call gate before a call.
   * @defaultValue {@link DEFAULT_GATE_WAIT_MS} (30000)
   */
  gateWaitMs?: number;
  /**
   * Longest credential fetch before a call: an OAuth refresh at the token
   * endpoint (`TOKEN_REQUEST_TIMEOUT_MS` of @broker/tools/oauth), or a 401's re-fetch.
   * @defaultValue 10000
   */
  credentialsMs?: number;
}

/**
 * A probe's lease, from its admission and again from each `renew()`: one
 * upstream call with everything that may precede it (a wait for the call gate,
 * a credential refresh) and the call's own timeout. A try of several calls
 * (pages, a 401 re-send) renews before each, so the lease need not cover the
 * whole try, and a worker that died mid-probe holds the slot only this long.
 * Too short, and a second probe goes out while the first is still waiting for
 * its answer.
 */
export function probeLeaseMs(integration: IntegrationConfig, timings: ProbeTimings = {}): number {
  const gateWaitMs = timings.gateWaitMs ?? DEFAULT_GATE_WAIT_MS;
  const credentialsMs = timings.credentialsMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  return gateWaitMs + credentialsMs + integration.timeoutMs + LEASE_SLACK_MS;
}

export type BreakerOutcome = 'success' | 'failure' | 'neutral';

/**
 * What a try tells the breaker (docs/integrations.md#circuit-breaker): only 5xx answers, timeouts and
 * network errors are failures. Any other answer, 4xx included, shows the
 * upstream alive; a 429 says nothing about its health (the pause handles it),
 * nor does a failure before anything was sent (missing credentials, the
 * secrets provider or the OAuth token endpoint down, the call gate): counting
 * those would let a Vault outage open the breaker of every integration.
 */
export function breakerOutcome(error: ToolError | undefined): BreakerOutcome {
  if (!error) return 'success';
  // First: a `prepare` error may carry a status, but it is the token endpoint's, not the upstream's.
  if (error.stage === 'prepare') return 'neutral';
  if (error.upstreamStatus !== undefined) {
    if (error.upstreamStatus === 429) return 'neutral';
    return error.upstreamStatus >= 500 ? 'failure' : 'success';
  }
  // A 2xx that breaks the output schema: the upstream answered, so it is alive.
  if (error.code === 'SCHEMA_MISMATCH') return 'success';
  // The upstream refused our client certificate in the TLS handshake (stage `connect`): it is up, and
  // the fix is ours; an open breaker would only hide the real error behind CIRCUIT_OPEN.
  if (error.code === 'AUTHENTICATION_FAILED') return 'neutral';
  // Refused, DNS, a timeout or a reset: the upstream may be down.
  if (error.stage === 'connect' || error.stage === 'exchange') return 'failure';
  // No stage: a transport error from before stages existed, or a tool's own check. OUTCOME_UNKNOWN is a
  // verdict on the job, not a fact about the upstream: one that wraps a failed call keeps that call's
  // status and stage (tool-jobs/look-up-earlier-try.ts), judged above; without them, the lookup
  // got answers it could not tell from (a page limit reached, a body that is not JSON).
  return error.code === 'UPSTREAM_ERROR' || error.code === 'TIMEOUT' ? 'failure' : 'neutral';
}

/** The outcome of asking the breaker before a try. */
export type BreakerTicket =
  | {
      admitted: true;
      /** Reports the try's result (no error: success). Only the first report of a ticket counts; never throws. */
      settle(error?: ToolError): Promise<void>;
      /** No call was made after all (the call gate held it back): a probe frees its slot. */
      release(): Promise<void>;
      /**
       * Call before each upstream call of the try: a probe's lease then runs
       * {@link probeLeaseMs} from now, if this try still holds the probe.
       * No Redis call when the try is not a probe or has been settled; never throws.
       */
      renew(): Promise<void>;
    }
  | {
      admitted: false;
      state: CircuitState;
      waitMs: number;
      /** For the job record: `CIRCUIT_OPEN`, retryable, `retryAt` = when a try may go through. */
      error: ToolError;
    };

/** The circuit breaker of every integration, backed by Redis (see the state diagram above). */
export class CircuitBreaker {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly metrics: Metrics,
    /** What a probe's lease must cover besides the call itself (see {@link probeLeaseMs}). */
    private readonly timings: ProbeTimings = {},
  ) {}

  async admit(name: string, integration: IntegrationConfig, token: string, log: Logger): Promise<BreakerTicket> {
    const leaseMs = probeLeaseMs(integration, this.timings);
    const [verdict, state, waitMs, transition] = await ADMIT.run<[string, CircuitState, number, string]>(
      this.redis,
      [this.keys.circuit(name)],
      [token, leaseMs, HALF_OPEN_POLL_MS],
    );
    this.observe(name, state, transition, log);
    if (verdict === 'wait') {
      const retryAt = new Date(Date.now() + waitMs);
      const message =
        state === 'open'
          ? `the circuit breaker of "${name}" is open after repeated upstream failures; the job waits until ${retryAt.toISOString()}`
          : `the circuit breaker of "${name}" is half-open and a probe is in flight; the job waits for its result`;
      return { admitted: false, state, waitMs, error: new ToolError('CIRCUIT_OPEN', { message }) };
    }
    const probe = verdict === 'probe' ? token : '';
    let settled = false;
    const record = async (outcome: BreakerOutcome) => {
      if (settled) return;
      settled = true;
      // Only a probe's neutral result changes anything (it frees the slot).
      if (outcome === 'neutral' && !probe) return;
      // Every success goes to Redis, even when no failure was counted at admission:
      // tries admitted together settle in any order, and a success between
      // their failures must reset the count, or F,F,S,F would open the breaker.
      // RECORD only reads when there is nothing to reset.
      try {
        const [after, failures, change] = await RECORD.run<[CircuitState, number, string]>(
          this.redis,
          [this.keys.circuit(name)],
          [outcome, probe, integration.circuitBreaker.failureThreshold, integration.circuitBreaker.recoveryTimeoutMs],
        );
        this.observe(name, after, change, log, failures);
      } catch (err) {
        // Bookkeeping must not turn a finished call into a failed try (that would resend it).
        log.warn({ err: (err as Error).message, integration: name }, 'circuit breaker: result not recorded');
      }
    };
    const renew = async () => {
      if (!probe || settled) return;
      try {
        await RENEW.run<number>(this.redis, [this.keys.circuit(name)], [probe, leaseMs]);
      } catch (err) {
        // The call goes ahead regardless; at worst a second probe goes out when the lease lapses.
        log.warn({ err: (err as Error).message, integration: name }, 'circuit breaker: probe lease not renewed');
      }
    };
    return {
      admitted: true,
      settle: (error) => record(breakerOutcome(error)),
      release: () => record('neutral'),
      renew,
    };
  }

  private observe(name: string, state: CircuitState, transition: string, log: Logger, failures?: number): void {
    this.metrics.circuitState.set({ integration: name }, CIRCUIT_STATE_VALUE[state]);
    if (!transition) return;
    const [from, to] = transition.split('>');
    // Exactly one process performs each transition, so this is one line per change across all workers.
    const fields = { integration: name, circuitFrom: from, circuitTo: to, ...(failures !== undefined ? { failures } : {}) };
    if (to === 'open') log.warn(fields, 'circuit breaker %s -> %s', from, to);
    else log.info(fields, 'circuit breaker %s -> %s', from, to);
  }
}
