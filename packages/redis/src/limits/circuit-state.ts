import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';

/**
 * The circuit breaker's state as every process reads it. The worker owns the
 * transitions (one Lua script each, apps/worker/src/limits/circuit-breaker.ts);
 * this module owns the layout of the hash at `keys.circuit(integration)` and a
 * read without side effects, so the api can show the state without becoming a
 * second writer.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** The value exported as `broker_circuit_state`. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, half_open: 1, open: 2 };

/**
 * Fields of the circuit hash. Times are milliseconds on Redis' clock (`TIME`),
 * so the hosts' clocks never matter. An absent hash is a closed breaker.
 */
export const CIRCUIT_FIELDS = {
  /** `closed` | `open` | `half_open`. An `open` breaker past `openUntil` is half-open in effect until a try moves it. */
  state: 'state',
  /** Consecutive failures counted while closed. */
  failures: 'failures',
  /** When it last opened. */
  openedAt: 'openedAt',
  /** When an open breaker lets a probe through. */
  openUntil: 'openUntil',
  /** The token of the probe in flight while half-open. */
  probe: 'probe',
  /** When that probe's lease lapses (a worker that died mid-probe frees the slot then). */
  probeUntil: 'probeUntil',
  /** When the state last changed. */
  changedAt: 'changedAt',
} as const;

export interface CircuitSnapshot {
  state: CircuitState;
  /** Consecutive failures so far (closed) or the count that opened it. */
  failures: number;
  /** Epoch ms (Redis clock) of the last opening. */
  openedAt?: number;
  /** Epoch ms (Redis clock) when an open breaker half-opens. */
  openUntil?: number;
}

function toNumber(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Interprets the hash fields at Redis time `now`. */
export function decodeCircuit(fields: (string | null)[], now: number): CircuitSnapshot {
  const [state, failures, openedAt, openUntil] = fields;
  const snapshot: CircuitSnapshot = { state: 'closed', failures: toNumber(failures) ?? 0 };
  const opened = toNumber(openedAt);
  const until = toNumber(openUntil);
  if (opened !== undefined) snapshot.openedAt = opened;
  if (until !== undefined) snapshot.openUntil = until;
  if (state === 'half_open') snapshot.state = 'half_open';
  // Past its recovery time the next try is a probe: report what a caller would meet.
  else if (state === 'open') snapshot.state = until !== undefined && now >= until ? 'half_open' : 'open';
  return snapshot;
}

const READ_FIELDS = [CIRCUIT_FIELDS.state, CIRCUIT_FIELDS.failures, CIRCUIT_FIELDS.openedAt, CIRCUIT_FIELDS.openUntil];

/**
 * Reads the breakers of `integrations`: Redis' clock, then each hash (one
 * command each, sent together: on a Redis Cluster the hashes live on different
 * nodes, so no MULTI can span them). Changes nothing.
 */
export async function readCircuitStates(redis: RedisClient, keys: RedisKeys, integrations: readonly string[]): Promise<Map<string, CircuitSnapshot>> {
  const [[seconds, micros], ...rows] = await Promise.all([
    redis.time() as Promise<[string | number, string | number]>,
    ...integrations.map((name) => redis.hmget(keys.circuit(name), ...READ_FIELDS)),
  ]);
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const out = new Map<string, CircuitSnapshot>();
  integrations.forEach((name, i) => out.set(name, decodeCircuit(rows[i] as (string | null)[], now)));
  return out;
}

export async function readCircuitState(redis: RedisClient, keys: RedisKeys, integration: string): Promise<CircuitSnapshot> {
  return (await readCircuitStates(redis, keys, [integration])).get(integration)!;
}
