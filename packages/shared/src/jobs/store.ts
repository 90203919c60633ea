import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { LuaScript } from '../redis/lua-script';
import type { JobError, JobStatus, PublicJob } from './schema';

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
}

export type CreateOutcome =
  | { kind: 'created'; id: string }
  | { kind: 'replayed'; id: string }
  | { kind: 'reused'; id: string };

/** What FINISH tells about the job it just finished. */
export interface FinishedJobFacts {
  tool: string;
  integration: string;
  connection: string;
  callbackUrl?: string;
  /** How often the agent retried the job: names the run whose end this is (see callbackJobId). */
  retries: number;
}

export type CancelOutcome = { kind: 'cancelled' } | { kind: 'missing' } | { kind: 'conflict'; status: JobStatus };

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
// once, and its token fences out the try it replaces (see holdsClaim).
const CLAIM = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', 0} end
if status == 'cancelled' or status == 'succeeded' or status == 'failed' then
  return {status, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'try', ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'startedAt') == 0 then redis.call('HSET', KEYS[1], 'startedAt', ARGV[1]) end
-- Found running: the previous try never reported back (its worker died or lost the job's lock).
return {'running', redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[3]), status == 'running' and 1 or 0}
`);

// KEYS: job. ARGV: status, field, value, ... Only while the job is not terminal.
const UPDATE_OPEN = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'cancelled' or status == 'succeeded' or status == 'failed' then return 0 end
local fields = {'status', ARGV[1]}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
`);

/*
 * The job-events channel is an ARGV, not a KEY: a channel is not a key (it has
 * no slot), and on a Redis Cluster a PUBLISH reaches the subscribers of every
 * node, while a second KEY would have to share the job's slot.
 */

// KEYS: job. ARGV: ttlSeconds, jobId, clearFields (comma list), channel, field, value, ...
const FINISH = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'cancelled' or status == 'succeeded' or status == 'failed' then return 0 end
if ARGV[3] ~= '' then
  for f in string.gmatch(ARGV[3], '[^,]+') do redis.call('HDEL', KEYS[1], f) end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[2])
local facts = redis.call('HMGET', KEYS[1], 'tool', 'integration', 'connection', 'callbackUrl', 'retries')
return {1, facts[1] or '', facts[2] or '', facts[3] or '', facts[4] or '', facts[5] or '0'}
`);

// KEYS: job. ARGV: agentId, now, ttlSeconds, jobId, channel.
const CANCEL = new LuaScript(`
local owner = redis.call('HGET', KEYS[1], 'agentId')
if not owner or owner ~= ARGV[1] then return 'missing' end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'deferred' then return status end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'error')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 'ok'
`);

// KEYS: job. ARGV: finishedAt, ttlSeconds, jobId, channel. Like CANCEL, but only
// for a job no worker ever claimed (no try started): the api withdrawing a
// submission whose enqueue it could not confirm (a job waiting for its next
// try is `queued` too, and may have acted upstream).
const WITHDRAW = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'queued' then return status end
if redis.call('HEXISTS', KEYS[1], 'startedAt') == 1 then return 'claimed' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 'ok'
`);

// KEYS: job. ARGV: none. Only a failed job; its record lives on without expiry until it finishes again.
const REOPEN = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'failed' then return status or 'missing' end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('HDEL', KEYS[1], 'error', 'finishedAt', 'result')
redis.call('PERSIST', KEYS[1])
return 'reopened'
`);

/*
 * An agent's retry (CONTRACT §3): a failed job whose error is retryable, or
 * OUTCOME_UNKNOWN, goes back to queued as the same job. The check and the
 * move are one script, so of two concurrent retries exactly one wins. Its
 * `attempts` are kept (they go on counting); `startedAt` stays the first
 * try's. Returns what it took off, so that the api can undo a retry whose
 * BullMQ job cannot be moved (UNDO_RETRY), and the record after the move.
 */
// KEYS: job. ARGV: agentId, now.
const RETRY = new LuaScript(`
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

export type Fields = Record<string, string | number | undefined>;

function flatten(fields: Fields): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out.push(k, String(v));
  return out;
}

function parseJson(value: string | undefined): unknown {
  return value === undefined ? undefined : JSON.parse(value);
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
    });
    const [kind, id] = await CREATE.run<[CreateOutcome['kind'], string]>(
      this.redis,
      idempotency ? [this.keys.job(record.id), this.keys.idempotency(record.agentId, idempotency.key)] : [this.keys.job(record.id)],
      [record.id, idempotency?.fingerprint ?? '', String((idempotency?.ttlSeconds ?? 0) * 1000), ...fields],
    );
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
    return (await this.redis.hget(this.keys.job(id), 'try')) === tryToken;
  }

  /** Counts a try (or, with -1, takes back one that did not count). */
  async incrementAttempts(id: string, by = 1): Promise<number> {
    return this.redis.hincrby(this.keys.job(id), 'attempts', by);
  }

  /** Moves a job that has not finished to `queued` or `deferred` (e.g. waiting for a retry). */
  async markWaiting(id: string, status: 'queued' | 'deferred', error?: JobError): Promise<boolean> {
    const args = error ? ['error', JSON.stringify(error)] : [];
    return (await UPDATE_OPEN.run(this.redis, [this.keys.job(id)], [status, ...args])) === 1;
  }

  async setProgress(id: string, progress: unknown): Promise<void> {
    await UPDATE_OPEN.run(this.redis, [this.keys.job(id)], ['running', 'progress', JSON.stringify(progress)]);
  }

  async succeed(id: string, result: unknown): Promise<boolean> {
    return (await this.finishJob(id, { status: 'succeeded', result: JSON.stringify(result ?? null) }, ['error'])) !== undefined;
  }

  async fail(id: string, error: JobError): Promise<boolean> {
    return (await this.finishJob(id, { status: 'failed', error: JSON.stringify(error) }, ['result'])) !== undefined;
  }

  /**
   * Writes a terminal state unless the job already has one. Returns what a
   * listener needs to know of the job it finished (so nobody reads the record
   * again), or undefined when this call did not finish it.
   */
  protected async finishJob(id: string, fields: Fields, clear: string[]): Promise<FinishedJobFacts | undefined> {
    const answer = await FINISH.run<0 | [1, string, string, string, string, string]>(
      this.redis,
      [this.keys.job(id)],
      [String(this.options.retentionSeconds), id, clear.join(','), this.keys.jobEvents, ...flatten({ ...fields, finishedAt: this.now().toISOString() })],
    );
    if (!Array.isArray(answer)) return undefined;
    const [, tool, integration, connection, callbackUrl, retries] = answer;
    return { tool, integration, connection: connection || 'default', retries: Number(retries) || 0, ...(callbackUrl ? { callbackUrl } : {}) };
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
    const answer = await CANCEL.run<'ok' | 'missing' | JobStatus>(
      this.redis,
      [this.keys.job(id)],
      [agentId, this.now().toISOString(), String(this.options.retentionSeconds), id, this.keys.jobEvents],
    );
    if (answer === 'ok') return { kind: 'cancelled' };
    if (answer === 'missing') return { kind: 'missing' };
    return { kind: 'conflict', status: answer };
  }
}
