import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';
import { LuaScript } from '../lua-script';
import type { ApprovalDecision, JobHold } from '@broker/shared/jobs/approvals';
import type { JobError, JobStatus, PublicJob } from '@broker/shared/jobs/schema';

/** What the job hash holds beyond the public fields. */
export interface JobRecord extends PublicJob {
  agentId: string;
  integration: string;
  connection: string;
  callbackUrl?: string;
  /** How often the agent had the job run again (`POST /v1/jobs/{id}/retry`); absent before the first. */
  retries?: number;
  /** ISO 8601: the agent's latest retry. */
  retriedAt?: string;
  /** Set when an `approvals` rule held the job at submission (kept after the decision). */
  hold?: JobHold;
  /** Who approved or denied the held job, or that it expired. Never in the public job. */
  decision?: ApprovalDecision;
  /** Under a spend cap: the UTC day (`YYYY-MM-DD`) its amounts were counted on (see giveBackSpend). Never in the public job. */
  spendDay?: string;
  /** `mcp-task`: submitted by a task-augmented MCP `tools/call`, so the MCP tasks API serves it (apps/api/src/mcp/task-store.ts). Never in the public job. */
  via?: 'mcp-task';
}

export type CreateOutcome = { kind: 'created'; id: string } | { kind: 'replayed'; id: string } | { kind: 'reused'; id: string };

/** What FINISH tells about the job it just finished. */
export interface FinishedJobFacts {
  tool: string;
  integration: string;
  connection: string;
  callbackUrl?: string;
  /** How often the agent retried the job: names the run whose end this is (see callbackJobId). */
  retries: number;
  /** The job's agent (for its audit entry). */
  agentId: string;
  /** Set when the job is under a spend cap (JobRecord.spendDay). */
  spendDay?: string;
}

/** `from`: the status the job was cancelled in (`awaiting_approval` for a held job). */
export type CancelOutcome =
  | { kind: 'cancelled'; from: JobStatus }
  | { kind: 'missing' }
  | { kind: 'conflict'; status: JobStatus }
  /** An earlier try may have applied the write; the broker looks it up before anything else happens to the job. */
  | { kind: 'uncertain'; status: JobStatus };

/**
 * What a decision on a held job did: `decided` with the record after it;
 * `missing` for an unknown job; `conflict` when the job is not
 * `awaiting_approval`; `expired` when its hold ran out (the worker fails it
 * APPROVAL_EXPIRED); `own` when the deciding agent owns the job.
 */
export type DecisionOutcome = { kind: 'decided'; record: JobRecord } | { kind: 'missing' } | { kind: 'conflict'; status: JobStatus } | { kind: 'expired' } | { kind: 'own' };

/** What the worker's expiry of a held job did: `early` (with the deadline, ms) while the hold still runs. */
export type ExpiryOutcome = { kind: 'expired'; record: JobRecord } | { kind: 'early'; untilMs: number } | { kind: 'missing' } | { kind: 'conflict'; status: JobStatus };

/**
 * What a retry took off the record, so a retry that cannot be carried out
 * (its BullMQ job is gone) is undone exactly: {@link JobStore.undoRetry}.
 */
export interface RetryUndo {
  /** The record's `retries` after this retry: the undo applies only while it is still this retry's. */
  retries: number;
  /** The record's time to live before the retry made it permanent; -1: it had none. */
  ttlMs: number;
  error: string;
  finishedAt: string;
  /** '' when the job had no progress. */
  progress: string;
  /** '' when this was the first retry. */
  retriedAt: string;
}

export type RetryOutcome =
  | { kind: 'retried'; record: JobRecord; undo: RetryUndo }
  | { kind: 'missing' }
  /** `code`: the error of a failed job that is not retryable. */
  | { kind: 'conflict'; status: JobStatus; code?: string };

export interface IdempotencyClaim {
  key: string;
  fingerprint: string;
  ttlSeconds: number;
}

/*
 * Each script reads and writes one job hash atomically, so the api (cancel) and
 * the workers (claim, finish) can race on a job and exactly one of them wins.
 */

// KEYS: job, idempotency (absent when none: an empty key name would hash to slot 0).
// ARGV: jobId, fingerprint, idemTtlMs, field, value, ...
const CREATE = new LuaScript(`
if #KEYS > 1 then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    local sep = string.find(existing, ' ', 1, true)
    local fp = string.sub(existing, 1, sep - 1)
    local id = string.sub(existing, sep + 1)
    if fp == ARGV[2] then return {'replayed', id} end
    return {'reused', id}
  end
  redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. ARGV[1], 'PX', ARGV[3])
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return {'created', ARGV[1]}
`);

// KEYS: job. ARGV: now, try token, 1 or 0 (counts as an attempt). Returns
// {status after the claim, attempts, interrupted}; a claimed try is counted at
// once, and its token fences out the try it replaces (see holdsClaim). A job
// awaiting approval is never claimed: its status comes back, and the worker
// expires it (EXPIRE_HOLD) once its hold has run out.
const CLAIM = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', 0} end
if status == 'cancelled' or status == 'succeeded' or status == 'failed' or status == 'awaiting_approval' then
  return {status, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'try', ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'startedAt') == 0 then redis.call('HSET', KEYS[1], 'startedAt', ARGV[1]) end
-- Found running: the previous try never reported back (its worker died or lost the job's lock).
return {'running', redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[3]), status == 'running' and 1 or 0}
`);

// KEYS: job. ARGV: status, try token ('' for any), field, value, ... Only while the
// job is not terminal and, with a token, while that try still holds it (see holdsClaim).
const UPDATE_OPEN = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'cancelled' or status == 'succeeded' or status == 'failed' then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'try') ~= ARGV[2] then return 0 end
local fields = {'status', ARGV[1]}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
`);

/*
 * The job-events channel is an ARGV, not a KEY: a channel is not a key (it has
 * no slot), and on a Redis Cluster a PUBLISH reaches the subscribers of every
 * node, while a second KEY would have to share the job's slot.
 */

// KEYS: job. ARGV: ttlSeconds, jobId, clearFields (comma list), channel, try token ('' for any), field, value, ...
const FINISH = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'cancelled' or status == 'succeeded' or status == 'failed' then return 0 end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'try') ~= ARGV[5] then return 0 end
if ARGV[3] ~= '' then
  for f in string.gmatch(ARGV[3], '[^,]+') do redis.call('HDEL', KEYS[1], f) end
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[2])
local facts = redis.call('HMGET', KEYS[1], 'tool', 'integration', 'connection', 'callbackUrl', 'retries', 'agentId', 'spendDay')
return {1, facts[1] or '', facts[2] or '', facts[3] or '', facts[4] or '', facts[5] or '0', facts[6] or '', facts[7] or ''}
`);

// KEYS: job. ARGV: agentId, now, ttlSeconds, jobId, channel.
// Returns {'ok', the status it cancelled}, {'missing'}, or {'conflict', status}.
const CANCEL = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], 'agentId')
if not owner or owner ~= ARGV[1] then return {'missing'} end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'deferred' and status ~= 'awaiting_approval' then return {'conflict', status or 'missing'} end
-- An earlier try may have applied the write, and the broker is about to look it up: cancelling now would say nothing happened.
if redis.call('HGET', KEYS[1], 'uncertain') == '1' then return {'uncertain', status} end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'error')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[4])
return {'ok', status}
`);

// KEYS: job. ARGV: finishedAt, ttlSeconds, jobId, channel. Like CANCEL, but only
// for a job no worker ever claimed (no try started): the api withdrawing a
// submission whose enqueue it could not confirm (a job waiting for its next
// try is `queued` too, and may have acted upstream). A job awaiting approval
// never ran.
const WITHDRAW = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'queued' and status ~= 'awaiting_approval' then return status end
if redis.call('HEXISTS', KEYS[1], 'startedAt') == 1 then return 'claimed' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 'ok'
`);

/*
 * A job that ended OUTCOME_UNKNOWN may have applied its write: reopened or
 * retried, it is looked up before anything is sent, and cannot be cancelled
 * meanwhile (CANCEL answers 'uncertain'), or a cancel would say nothing was done.
 */
const MARK_UNCERTAIN_IF_OUTCOME_UNKNOWN = `
local function markUncertainIfOutcomeUnknown(key)
  local raw = redis.call('HGET', key, 'error')
  if not raw then return end
  local ok, e = pcall(cjson.decode, raw)
  if ok and type(e) == 'table' and e.code == 'OUTCOME_UNKNOWN' then redis.call('HSET', key, 'uncertain', '1') end
end
`;

// KEYS: job. ARGV: none. Only a failed job; its record lives on without expiry until it finishes again.
const REOPEN = new LuaScript(`
${MARK_UNCERTAIN_IF_OUTCOME_UNKNOWN}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'failed' then return status or 'missing' end
markUncertainIfOutcomeUnknown(KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HDEL', KEYS[1], 'error', 'finishedAt', 'result')
redis.call('PERSIST', KEYS[1])
return 'reopened'
`);

/*
 * An agent's retry (docs/api.md#retrying-a-failed-job): a failed job whose error is retryable, or
 * OUTCOME_UNKNOWN, goes back to queued as the same job. The check and the
 * move are one script, so of two concurrent retries exactly one wins. Its
 * `attempts` are kept (they go on counting); `startedAt` stays the first
 * try's. Returns what it took off, so that the api can undo a retry whose
 * BullMQ job cannot be moved (UNDO_RETRY), and the record after the move.
 */
// KEYS: job. ARGV: agentId, now.
const RETRY = new LuaScript(`
${MARK_UNCERTAIN_IF_OUTCOME_UNKNOWN}
local owner = redis.call('HGET', KEYS[1], 'agentId')
if not owner or owner ~= ARGV[1] then return {'missing'} end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'failed' then return {'conflict', status or 'missing', ''} end
local raw = redis.call('HGET', KEYS[1], 'error')
local code, retryable = '', false
if raw then
  local ok, e = pcall(cjson.decode, raw)
  if ok and type(e) == 'table' then
    if type(e.code) == 'string' then code = e.code end
    retryable = e.retryable == true
  end
end
if not retryable and code ~= 'OUTCOME_UNKNOWN' then return {'conflict', status, code} end
local saved = redis.call('HMGET', KEYS[1], 'error', 'finishedAt', 'progress', 'retriedAt')
local ttl = redis.call('PTTL', KEYS[1])
markUncertainIfOutcomeUnknown(KEYS[1])
local retries = redis.call('HINCRBY', KEYS[1], 'retries', 1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'retriedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'error', 'finishedAt', 'progress', 'result')
redis.call('PERSIST', KEYS[1])
local answer = {'retried', retries, ttl, saved[1] or '', saved[2] or '', saved[3] or '', saved[4] or ''}
local hash = redis.call('HGETALL', KEYS[1])
for i = 1, #hash do answer[#answer + 1] = hash[i] end
return answer
`);

// KEYS: job. ARGV: retries, ttlMs, error, finishedAt, progress, retriedAt, jobId, channel.
// Only while the job is still queued by that retry (no worker claimed it, nobody cancelled it).
const UNDO_RETRY = new LuaScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if redis.call('HGET', KEYS[1], 'retries') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'finishedAt', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'retriedAt', ARGV[6]) else redis.call('HDEL', KEYS[1], 'retriedAt') end
if tonumber(ARGV[1]) <= 1 then redis.call('HDEL', KEYS[1], 'retries') else redis.call('HINCRBY', KEYS[1], 'retries', -1) end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[8], ARGV[7])
return 1
`);

/*
 * Approval holds (docs/guardrails.md#approval-holds). A held record carries `holdUntil`
 * (ms since epoch) beside its `hold`; approve, deny, the agent's cancel and
 * the worker's expiry are each one script on the record, so of any two that
 * race exactly one wins. Approve and deny refuse a hold that has run out (the
 * worker is about to expire it); expiry refuses one that has not.
 */

// KEYS: job. ARGV: nowMs, decision JSON, the deciding agent ('' for admin).
// Returns {'decided', field, value, ...} (the record after it), or {why, status?}.
const APPROVE = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'agentId') == ARGV[3] then return {'own'} end
if status ~= 'awaiting_approval' then return {'conflict', status} end
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'holdUntil'))
if untilMs and tonumber(ARGV[1]) >= untilMs then return {'expired'} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'decision', ARGV[2])
local answer = {'decided'}
local hash = redis.call('HGETALL', KEYS[1])
for i = 1, #hash do answer[#answer + 1] = hash[i] end
return answer
`);

// KEYS: job. ARGV: nowMs, 'deny' or 'expire', the deciding agent ('' for admin
// or expiry), ttlSeconds, jobId, channel, finishedAt, error JSON, decision JSON.
// A denial while the hold runs, an expiry once it has run out: the job ends
// failed, like FINISH. Returns {'decided', field, value, ...}, {'early', holdUntil} or {why, status?}.
const FINISH_HOLD = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'agentId') == ARGV[3] then return {'own'} end
if status ~= 'awaiting_approval' then return {'conflict', status} end
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'holdUntil'))
local past = untilMs ~= nil and tonumber(ARGV[1]) >= untilMs
if ARGV[2] == 'deny' and past then return {'expired'} end
if ARGV[2] == 'expire' and not past then return {'early', tostring(untilMs or 0)} end
redis.call('HSET', KEYS[1], 'status', 'failed', 'finishedAt', ARGV[7], 'error', ARGV[8], 'decision', ARGV[9])
redis.call('HDEL', KEYS[1], 'result')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[6], ARGV[5])
local answer = {'decided'}
local hash = redis.call('HGETALL', KEYS[1])
for i = 1, #hash do answer[#answer + 1] = hash[i] end
return answer
`);

/**
 * Held jobs older than this whose record is missing are dropped from the
 * approvals index when it is read (younger ones may be records on their way:
 * the index is written first). @defaultValue 60000
 */
export const HELD_INDEX_GRACE_MS = 60_000;

/** Index entries read per round trip when listing held jobs. @defaultValue 200 */
const HELD_INDEX_BATCH = 200;

export type Fields = Record<string, string | number | undefined>;

function flatten(fields: Fields): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out.push(k, String(v));
  return out;
}

function parseJson(value: string | undefined): unknown {
  return value === undefined ? undefined : JSON.parse(value);
}

/** The record of a script's `{kind, field, value, ...}` answer. */
function recordOfAnswer(id: string, flat: readonly string[]): JobRecord {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  const record = decodeJobHash(hash);
  if (!record) throw new Error(`job ${id} has no record after its decision`);
  return record;
}

/** Turns the stored hash into a record; undefined when the hash is absent. */
export function decodeJobHash(hash: Record<string, string>): JobRecord | undefined {
  if (!hash.id || !hash.status) return undefined;
  const record: JobRecord = {
    id: hash.id,
    tool: hash.tool ?? '',
    status: hash.status as JobStatus,
    attempts: Number(hash.attempts ?? 0),
    createdAt: hash.createdAt ?? '',
    agentId: hash.agentId ?? '',
    integration: hash.integration ?? '',
    connection: hash.connection ?? 'default',
  };
  if (hash.startedAt) record.startedAt = hash.startedAt;
  if (hash.finishedAt) record.finishedAt = hash.finishedAt;
  if (hash.progress !== undefined) record.progress = parseJson(hash.progress);
  if (hash.result !== undefined) record.result = parseJson(hash.result);
  if (hash.error !== undefined) record.error = parseJson(hash.error) as JobError;
  if (hash.callbackUrl) record.callbackUrl = hash.callbackUrl;
  if (hash.retries) record.retries = Number(hash.retries);
  if (hash.retriedAt) record.retriedAt = hash.retriedAt;
  if (hash.hold) record.hold = parseJson(hash.hold) as JobHold;
  if (hash.decision) record.decision = parseJson(hash.decision) as ApprovalDecision;
  if (hash.spendDay) record.spendDay = hash.spendDay;
  if (hash.via === 'mcp-task') record.via = hash.via;
  return record;
}

/** The fields an agent may see, in the contract's order. */
export function toPublicJob(record: JobRecord): PublicJob {
  const job: PublicJob = {
    id: record.id,
    tool: record.tool,
    status: record.status,
    attempts: record.attempts,
    createdAt: record.createdAt,
  };
  if (record.startedAt) job.startedAt = record.startedAt;
  if (record.finishedAt) job.finishedAt = record.finishedAt;
  if (record.progress !== undefined) job.progress = record.progress;
  if (record.result !== undefined) job.result = record.result;
  if (record.error !== undefined) job.error = record.error;
  return job;
}

export interface JobStoreOptions {
  /** Seconds a finished job record is kept. */
  retentionSeconds: number;
  now?: () => Date;
}

/**
 * The job record: the one place that says what state a job is in. BullMQ moves
 * the work; this hash is what agents read, and what cancel and claim race on.
 */
export class JobStore {
  private readonly now: () => Date;
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: JobStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async create(record: JobRecord, idempotency?: IdempotencyClaim): Promise<CreateOutcome> {
    const fields = flatten({
      id: record.id,
      tool: record.tool,
      status: record.status,
      attempts: record.attempts,
      createdAt: record.createdAt,
      agentId: record.agentId,
      integration: record.integration,
      connection: record.connection,
      callbackUrl: record.callbackUrl,
      hold: record.hold ? JSON.stringify(record.hold) : undefined,
      holdUntil: record.hold ? Date.parse(record.hold.expiresAt) : undefined,
      spendDay: record.spendDay,
      via: record.via,
    });
    // A held job is indexed for `GET /v1/approvals` first, sent before the
    // record on the same connection (so it is never a record nobody lists);
    // the index is another slot, so not in the script. An entry whose record
    // never lands is dropped when the index is read (listHeld).
    const indexed = record.hold ? this.redis.zadd(this.keys.approvals, Date.parse(record.createdAt), record.id) : undefined;
    const created = CREATE.run<[CreateOutcome['kind'], string]>(
      this.redis,
      idempotency ? [this.keys.job(record.id), this.keys.idempotency(record.agentId, idempotency.key)] : [this.keys.job(record.id)],
      [record.id, idempotency?.fingerprint ?? '', String((idempotency?.ttlSeconds ?? 0) * 1000), ...fields],
    );
    const [[kind, id]] = await Promise.all([created, indexed]);
    if (kind !== 'created' && record.hold) this.unindex(record.id);
    return { kind, id };
  }

  /** Undoes a create whose enqueue failed, so nothing is left half-written. */
  async discard(record: JobRecord, idempotencyKey?: string): Promise<void> {
    const keys = [this.keys.job(record.id)];
    if (idempotencyKey) keys.push(this.keys.idempotency(record.agentId, idempotencyKey));
    // One DEL per key: a multi-key DEL must stay in one slot, and a job made without its key's tag would not.
    await Promise.all(keys.map((key) => this.redis.del(key)));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return decodeJobHash(await this.redis.hgetall(this.keys.job(id)));
  }

  /**
   * Starts a try: marks the job running and counts the attempt (unless
   * `countsAttempt` is false: a run that only looks up what the last try did),
   * unless it was cancelled or already finished. One script, so the try's upstream call
   * follows its admission without another round trip; a try that is then held
   * back gives its attempt back with `incrementAttempts(id, -1)`.
   */
  async claimTry(id: string, tryToken = '', countsAttempt = true): Promise<{ status: JobStatus | 'missing'; attempts: number; interrupted: boolean }> {
    const argv = [this.now().toISOString(), tryToken, countsAttempt ? '1' : '0'];
    const [status, attempts, interrupted] = await CLAIM.run<[JobStatus | 'missing', number, number?]>(this.redis, [this.keys.job(id)], argv);
    return { status, attempts, interrupted: interrupted === 1 };
  }

  /** Marks the job running unless it was cancelled or already finished; returns the status. */
  async claim(id: string): Promise<JobStatus | 'missing'> {
    return (await this.claimTry(id)).status;
  }

  /**
   * Whether the try of `tryToken` still holds the job: no later claim took it
   * (a worker that lost the job's BullMQ lock while it stalled, and whose job
   * another worker now runs, is fenced out by this before each request).
   */
  async holdsClaim(id: string, tryToken: string): Promise<boolean> {
    const [token, status] = await this.redis.hmget(this.keys.job(id), 'try', 'status');
    return token === tryToken && status === 'running';
  }

  /** Counts a try (or, with -1, takes back one that did not count). */
  async incrementAttempts(id: string, by = 1): Promise<number> {
    return this.redis.hincrby(this.keys.job(id), 'attempts', by);
  }

  /** Moves a job that has not finished to `queued` or `deferred` (e.g. waiting for a retry). */
  /**
   * Moves a job that has not finished to `queued` or `deferred`. With
   * `tryToken` (a worker's try), only while that try still holds the job: a
   * try fenced out by a later claim must not move the job under the try that
   * runs it now. The same holds for setProgress, succeed and fail.
   */
  async markWaiting(id: string, status: 'queued' | 'deferred', error?: JobError, tryToken = '', uncertain = false): Promise<boolean> {
    // `uncertain`: an earlier try may have applied an unkeyed write and the next run looks it up; the job cannot be cancelled meanwhile.
    const args = [...(error ? ['error', JSON.stringify(error)] : []), ...(uncertain ? ['uncertain', '1'] : [])];
    return (await UPDATE_OPEN.run(this.redis, [this.keys.job(id)], [status, tryToken, ...args])) === 1;
  }

  async setProgress(id: string, progress: unknown, tryToken = ''): Promise<void> {
    await UPDATE_OPEN.run(this.redis, [this.keys.job(id)], ['running', tryToken, 'progress', JSON.stringify(progress)]);
  }

  async succeed(id: string, result: unknown, tryToken = ''): Promise<boolean> {
    return (await this.finishJob(id, { status: 'succeeded', result: JSON.stringify(result ?? null) }, ['error'], tryToken)) !== undefined;
  }

  async fail(id: string, error: JobError, tryToken = ''): Promise<boolean> {
    return (await this.finishJob(id, { status: 'failed', error: JSON.stringify(error) }, ['result'], tryToken)) !== undefined;
  }

  /**
   * Writes a terminal state unless the job already has one. Returns what a
   * listener needs to know of the job it finished (so nobody reads the record
   * again), or undefined when this call did not finish it.
   */
  protected async finishJob(id: string, fields: Fields, clear: string[], tryToken = ''): Promise<FinishedJobFacts | undefined> {
    const answer = await FINISH.run<0 | [1, string, string, string, string, string, string, string]>(
      this.redis,
      [this.keys.job(id)],
      [String(this.options.retentionSeconds), id, clear.join(','), this.keys.jobEvents, tryToken, ...flatten({ ...fields, finishedAt: this.now().toISOString() })],
    );
    if (!Array.isArray(answer)) return undefined;
    const [, tool, integration, connection, callbackUrl, retries, agentId, spendDay] = answer;
    return {
      tool,
      integration,
      connection: connection || 'default',
      retries: Number(retries) || 0,
      agentId,
      ...(callbackUrl ? { callbackUrl } : {}),
      ...(spendDay ? { spendDay } : {}),
    };
  }

  /**
   * Puts a failed job back to `queued` (an operator's retry, `broker jobs
   * retry-failed`): without it the worker's claim would see `failed` and skip
   * the retried BullMQ job. Returns `reopened`, or the status that forbids it.
   */
  async reopen(id: string): Promise<'reopened' | 'missing' | JobStatus> {
    return REOPEN.run<'reopened' | 'missing' | JobStatus>(this.redis, [this.keys.job(id)], []);
  }

  /**
   * The agent's retry of its failed job (`POST /v1/jobs/{id}/retry`): back to
   * `queued` when its error is retryable or OUTCOME_UNKNOWN, with `error`,
   * `finishedAt`, `progress` and `result` cleared and `attempts` kept; the
   * record lives on without expiry until it finishes again. `missing` for an
   * unknown or foreign job; `conflict` with the status (and the error code of
   * a failed job) that forbids it, a job another retry just requeued included.
   * The caller moves the BullMQ job, or undoes the retry with {@link undoRetry}.
   */
  async retry(id: string, agentId: string): Promise<RetryOutcome> {
    const answer = await RETRY.run<[string, ...(string | number)[]]>(this.redis, [this.keys.job(id)], [agentId, this.now().toISOString()]);
    const [kind] = answer;
    if (kind === 'missing') return { kind: 'missing' };
    if (kind === 'conflict') {
      const [, status, code] = answer as [string, JobStatus | 'missing', string];
      // A hash with an owner but no status is no job an agent can see.
      if (status === 'missing') return { kind: 'missing' };
      return code ? { kind: 'conflict', status, code } : { kind: 'conflict', status };
    }
    const [, retries, ttlMs, error, finishedAt, progress, retriedAt, ...flat] = answer as [string, number, number, string, string, string, string, ...string[]];
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
    const record = decodeJobHash(hash);
    if (!record) throw new Error(`job ${id} has no record after its retry`);
    return { kind: 'retried', record, undo: { retries, ttlMs, error, finishedAt, progress, retriedAt } };
  }

  /**
   * Puts a retried job back as it was (failed, with its error and expiry)
   * while it is still queued by that retry. Returns whether it did; the job's
   * long-polls are woken, as for any job that reaches a terminal state.
   */
  async undoRetry(id: string, undo: RetryUndo): Promise<boolean> {
    const answer = await UNDO_RETRY.run<number>(
      this.redis,
      [this.keys.job(id)],
      [undo.retries, undo.ttlMs, undo.error, undo.finishedAt, undo.progress, undo.retriedAt, id, this.keys.jobEvents],
    );
    return answer === 1;
  }

  /**
   * Cancels a queued or deferred job of this agent. `missing` for an unknown or
   * foreign job; `conflict` with the status that forbids it (a job already
   * cancelled included, so only one of two racing cancels wins).
   */
  /** Cancels a submission no worker ever started (see WITHDRAW): `withdrawn`, or why not. */
  async withdraw(id: string): Promise<'withdrawn' | 'missing' | 'claimed' | JobStatus> {
    const answer = await WITHDRAW.run<'ok' | 'missing' | 'claimed' | JobStatus>(
      this.redis,
      [this.keys.job(id)],
      [this.now().toISOString(), String(this.options.retentionSeconds), id, this.keys.jobEvents],
    );
    return answer === 'ok' ? 'withdrawn' : answer;
  }

  async cancel(id: string, agentId: string): Promise<CancelOutcome> {
    const [kind, status] = await CANCEL.run<['ok' | 'missing' | 'conflict' | 'uncertain', (JobStatus | 'missing')?]>(
      this.redis,
      [this.keys.job(id)],
      [agentId, this.now().toISOString(), String(this.options.retentionSeconds), id, this.keys.jobEvents],
    );
    // A hash with an owner but no status is no job an agent can see.
    if (kind === 'missing' || status === undefined || status === 'missing') return { kind: 'missing' };
    if (kind === 'conflict') return { kind: 'conflict', status };
    if (kind === 'uncertain') return { kind: 'uncertain', status };
    if (status === 'awaiting_approval') this.unindex(id);
    return { kind: 'cancelled', from: status };
  }

  /**
   * An operator approves a held job: `awaiting_approval` → `queued`, with the
   * decision on the record. The caller then promotes its BullMQ job (delayed
   * until the hold's end) so that it runs now. `byAgent`: the deciding
   * agent's id, which may not be the job's own (`own`); undefined for the
   * admin token.
   */
  async approve(id: string, decision: { by: string; reason?: string | undefined }, byAgent?: string): Promise<DecisionOutcome> {
    const now = this.now();
    const stored: ApprovalDecision = { outcome: 'approved', by: decision.by, at: now.toISOString(), ...(decision.reason !== undefined ? { reason: decision.reason } : {}) };
    const answer = await APPROVE.run<string[]>(this.redis, [this.keys.job(id)], [now.getTime(), JSON.stringify(stored), byAgent ?? '']);
    const outcome = this.decisionOutcome(id, answer);
    if (outcome.kind === 'decided') this.unindex(id);
    return outcome;
  }

  /**
   * An operator denies a held job: it ends `failed` with `error` (APPROVAL_DENIED),
   * the decision on the record, its long-polls woken. The caller removes its
   * BullMQ job and queues its callback.
   */
  async deny(id: string, decision: { by: string; reason?: string | undefined }, error: JobError, byAgent?: string): Promise<DecisionOutcome> {
    const now = this.now();
    const stored: ApprovalDecision = { outcome: 'denied', by: decision.by, at: now.toISOString(), ...(decision.reason !== undefined ? { reason: decision.reason } : {}) };
    const outcome = this.decisionOutcome(id, await this.finishHold(id, 'deny', now, error, stored, byAgent ?? ''));
    if (outcome.kind === 'decided') this.unindex(id);
    return outcome;
  }

  /**
   * The worker's end of a hold nobody decided: `failed` with `error`
   * (APPROVAL_EXPIRED) once `holdUntil` has passed; `early` (with the
   * deadline) before; `conflict` when it is no longer held (approved,
   * denied or cancelled meanwhile).
   */
  async expireHold(id: string, error: JobError): Promise<ExpiryOutcome> {
    const now = this.now();
    const answer = await this.finishHold(id, 'expire', now, error, { outcome: 'expired', at: now.toISOString() }, '');
    if (answer[0] === 'early') return { kind: 'early', untilMs: Number(answer[1]) };
    const outcome = this.decisionOutcome(id, answer);
    if (outcome.kind === 'decided') {
      this.unindex(id);
      return { kind: 'expired', record: outcome.record };
    }
    if (outcome.kind === 'conflict') return outcome;
    return { kind: 'missing' };
  }

  /**
   * Held jobs, oldest first: at most `limit` whose hold still runs (one that
   * ran out waits for the worker to expire it and is not listed). Index
   * entries whose job is no longer held are dropped on the way.
   */
  async listHeld(limit: number): Promise<JobRecord[]> {
    const nowMs = this.now().getTime();
    const held: JobRecord[] = [];
    const stale: string[] = [];
    for (let start = 0; held.length < limit; start += HELD_INDEX_BATCH) {
      const entries = await this.redis.zrange(this.keys.approvals, start, start + HELD_INDEX_BATCH - 1, 'WITHSCORES');
      if (entries.length === 0) break;
      const ids: { id: string; score: number }[] = [];
      for (let i = 0; i + 1 < entries.length; i += 2) ids.push({ id: entries[i]!, score: Number(entries[i + 1]) });
      const records = await Promise.all(ids.map(({ id }) => this.get(id)));
      records.forEach((record, i) => {
        const { id, score } = ids[i]!;
        if (!record) {
          if (nowMs - score > HELD_INDEX_GRACE_MS) stale.push(id);
        } else if (record.status !== 'awaiting_approval') {
          stale.push(id);
        } else if (held.length < limit && !(record.hold && Date.parse(record.hold.expiresAt) <= nowMs)) {
          held.push(record);
        }
      });
      if (entries.length < HELD_INDEX_BATCH * 2) break;
    }
    if (stale.length > 0) await this.redis.zrem(this.keys.approvals, ...stale);
    return held;
  }

  private finishHold(id: string, mode: 'deny' | 'expire', now: Date, error: JobError, decision: ApprovalDecision, byAgent: string): Promise<string[]> {
    return FINISH_HOLD.run<string[]>(
      this.redis,
      [this.keys.job(id)],
      [now.getTime(), mode, byAgent, String(this.options.retentionSeconds), id, this.keys.jobEvents, now.toISOString(), JSON.stringify(error), JSON.stringify(decision)],
    );
  }

  private decisionOutcome(id: string, answer: string[]): DecisionOutcome {
    const [kind, ...rest] = answer;
    if (kind === 'decided') return { kind: 'decided', record: recordOfAnswer(id, rest) };
    if (kind === 'conflict') return { kind: 'conflict', status: rest[0] as JobStatus };
    if (kind === 'expired' || kind === 'own') return { kind };
    return { kind: 'missing' };
  }

  /** Drops a job from the approvals index; the index is only a listing aid, so a failure is left to listHeld. */
  private unindex(id: string): void {
    this.redis.zrem(this.keys.approvals, id).catch(() => undefined);
  }
}
