import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';
import { LuaScript } from '../lua-script';

/*
 * Spend caps (`agents[].spendCaps`, docs/guardrails.md#spend-caps): the ledger of one agent's
 * UTC day, in two hashes of one hash slot (`{spend:<agent>:<day>}`, so every
 * script below runs on a Redis Cluster):
 *
 * - `spendTotals`: cap id → what the day's counted jobs add up to;
 * - `spendJobs`:   job id → what that job reserved of each cap, for as long
 *   as it can still be given back. The entry goes when the job's first
 *   upstream request is about to be sent (commitSpend) or when it is given
 *   back (giveBackSpend), whichever comes first: so a give-back is exact
 *   (the job's own amounts), idempotent (a second one finds no entry) and
 *   never refunds a job that reached the upstream.
 *
 * Both expire SPEND_KEY_MARGIN_MS after their day ends: past midnight the
 * day's totals no longer decide anything, and the margin lets a late
 * give-back or an API whose clock runs behind still find them.
 */

/** @defaultValue 1 hour */
export const SPEND_KEY_MARGIN_MS = 3600_000;

/** What one job reserves of one cap. */
export interface SpendCharge {
  /** `<tools glob> <sum pointer>`: the cap's identity in the ledger, stable across restarts and config reorders. */
  cap: string;
  amount: number;
  max: number;
}

/** A job under a spend cap, as its record (`spendDay`) or its BullMQ data (`spendDay`) names it. */
export interface SpendJob {
  id: string;
  agentId: string;
  /** The UTC day (`YYYY-MM-DD`) the job's amounts were counted on; absent: the job is under no spend cap. */
  spendDay?: string | undefined;
}

export type SpendReserveOutcome =
  | { kind: 'reserved' }
  /** A concurrent duplicate of this request (same Idempotency-Key and payload) holds the reservation: nothing counted. */
  | { kind: 'twin' }
  /** `index`: the charge (0-based) that does not fit; `spent`: that cap's total so far today. */
  | { kind: 'exceeded'; index: number; spent: number };

/** The cap id of a `spendCaps` entry. */
export const spendCapId = (cap: { tools: string; sum: string }): string => `${cap.tools} ${cap.sum}`;

/** When the ledger of `day` expires (ms since epoch). */
function ledgerExpiresAt(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`) + 24 * 3600_000 + SPEND_KEY_MARGIN_MS;
}

/*
 * KEYS: totals, jobs, and (a request with an Idempotency-Key) its twin mark.
 * ARGV: expireAt (ms), jobId, entry (JSON [cap, amount, …]), twin mark ttl
 * (ms), then cap, amount, max for each charge. Checks every charge, then
 * counts all of them, or none: a job under several caps passes all or
 * reserves nothing. Returns {0} when reserved (or already reserved under
 * this job id), {0, '', 1} when a concurrent duplicate holds the
 * reservation, or {i, spent} when charge i (1-based) would exceed its max.
 * Amounts travel as strings (Lua numbers returned to Redis are truncated to
 * integers).
 */
const RESERVE = new LuaScript(`
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return {0, '', 1} end
local n = (#ARGV - 4) / 3
for i = 0, n - 1 do
  local spent = redis.call('HGET', KEYS[1], ARGV[5 + 3 * i]) or '0'
  if tonumber(spent) + tonumber(ARGV[6 + 3 * i]) > tonumber(ARGV[7 + 3 * i]) then return {i + 1, spent} end
end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return {0} end
for i = 0, n - 1 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[5 + 3 * i], ARGV[6 + 3 * i]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[1])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[4]) end
return {0}
`);

/*
 * KEYS: totals, jobs, and (a keyed request that made no job) its twin mark.
 * ARGV: jobId. Gives the job's reservation back unless it was committed or
 * given back already. Returns 1 when it gave back, else 0. The mark goes
 * with the reservation it names (its value is the reserving job id): left
 * behind, it would pass the request's own retry (same key and payload, after
 * a 503 for a failed or abandoned create) as a twin of a reservation that no
 * longer exists, and that job would run counted nowhere.
 */
const GIVE_BACK = new LuaScript(`
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then return 0 end
local charges = cjson.decode(entry)
for i = 1, #charges, 2 do
  local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], charges[i], '-' .. charges[i + 1]))
  if left <= 0 then redis.call('HDEL', KEYS[1], charges[i]) end
end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

/**
 * Concurrent duplicates of one keyed request (docs/api.md#the-agent-api: one job, every one
 * answered 200 or 202 with it) are not counted each: the first to reserve
 * marks the request (`twin`, its Idempotency-Key hash and fingerprint) for
 * `windowMs`, and the others pass on its reservation (`twin`) instead of being
 * refused at a nearly full cap. Whichever of them creates the job, the
 * reservation stays counted (see CostReservation in the api).
 */
export interface SpendTwin {
  mark: string;
  windowMs: number;
}

/**
 * Counts `charges` of job `jobId` against the agent's totals of `day`, all or
 * none, in one script (concurrent submissions can never pass a cap together).
 * Reserving a job id twice counts it once.
 */
export async function reserveSpend(
  redis: RedisClient,
  keys: RedisKeys,
  agentId: string,
  day: string,
  jobId: string,
  charges: readonly SpendCharge[],
  twin?: SpendTwin,
): Promise<SpendReserveOutcome> {
  const entry = JSON.stringify(charges.flatMap((c) => [c.cap, String(c.amount)]));
  const ledger = [keys.spendTotals(agentId, day), keys.spendJobs(agentId, day)];
  const [index, spent, twinHolds] = await RESERVE.run<[number, string?, number?]>(redis, twin ? [...ledger, keys.spendTwin(agentId, day, twin.mark)] : ledger, [
    ledgerExpiresAt(day),
    jobId,
    entry,
    twin?.windowMs ?? 0,
    ...charges.flatMap((c) => [c.cap, String(c.amount), String(c.max)]),
  ]);
  if (twinHolds === 1) return { kind: 'twin' };
  return index === 0 ? { kind: 'reserved' } : { kind: 'exceeded', index: index - 1, spent: Number(spent) };
}

/**
 * The job's first upstream request is about to be sent: its amounts stay
 * counted for good (the money may move). The worker awaits it before that
 * request, for jobs under a spend cap only. Idempotent; one HDEL.
 */
export async function commitSpend(redis: RedisClient, keys: RedisKeys, job: SpendJob): Promise<void> {
  if (!job.spendDay) return;
  await redis.hdel(keys.spendJobs(job.agentId, job.spendDay), job.id);
}

/**
 * THE give-back of spend caps: returns a job's reserved amounts to its
 * agent's daily totals, unless the job already sent an upstream request
 * (commitSpend) or was given back before. Safe to call more than once, from
 * any process, for any job: one without `spendDay` costs nothing (no Redis
 * call). Called on a submission that made no job, a cancel, a job that
 * failed for good before calling, and a held job denied or expired. Resolves
 * true when it gave something back. `twinMark` (SpendTwin.mark): the request
 * made no job, and its twin mark goes too if it names this job.
 */
export async function giveBackSpend(redis: RedisClient, keys: RedisKeys, job: SpendJob, twinMark?: string): Promise<boolean> {
  if (!job.spendDay) return false;
  const ledger = [keys.spendTotals(job.agentId, job.spendDay), keys.spendJobs(job.agentId, job.spendDay)];
  const given = await GIVE_BACK.run<number>(redis, twinMark === undefined ? ledger : [...ledger, keys.spendTwin(job.agentId, job.spendDay, twinMark)], [job.id]);
  return given === 1;
}
