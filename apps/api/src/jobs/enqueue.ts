import type { CreateOutcome, IdempotencyClaim, JobRecord, JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import type { ToolJobOptions } from '@broker/shared/jobs/options';
import { REDIS_DEADLINE_MS, withRedisDeadline } from '../redis/deadline';
import { untilAnswered } from '../redis/until-answered';
import type { ToolQueue } from './queues';
import { UnconfirmedEnqueueError, type EnqueueFate } from './unconfirmed-enqueue-error';

export type EnqueueOutcome =
  | { kind: 'created'; record: JobRecord }
  | { kind: 'replayed'; record: JobRecord }
  | { kind: 'reused' }
  /** The key is known but its job record is gone (expired). */
  | { kind: 'vanished' };

export interface EnqueueRequest {
  record: JobRecord;
  data: ToolJobData;
  /** Options for `record.id`; on a replay they are rebuilt for the original id. */
  options: (jobId: string) => ToolJobOptions;
  claim?: IdempotencyClaim;
  /** The submitting request's id: the worker logs it with every line of the job and sends it upstream as X-Request-Id. */
  requestId?: string;
}

/**
 * A held job's BullMQ job is delayed until its hold runs out (computed at each
 * add, so a re-add keeps the original deadline): no worker sees it before an
 * approval promotes it, and the worker that takes it at the deadline expires it.
 */
function withHold(options: ToolJobOptions, record: JobRecord): ToolJobOptions {
  if (record.status !== 'awaiting_approval' || !record.hold) return options;
  return { ...options, delay: Math.max(0, Date.parse(record.hold.expiresAt) - Date.now()) };
}

/** Logged when an unkeyed job was answered 503 and runs all the same. */
const RAN_DESPITE_503 = 'a job answered 503 was taken by a worker before it could be withdrawn; a resubmission without an Idempotency-Key runs it again';

/**
 * Makes sure the job of a record that may have been written is queued:
 * BullMQ ignores the add of a job id it already holds, so re-adding is safe
 * whether the first add landed or not. `withdrawn` when the record never
 * landed (the key was claimed in the same script, so it did not either).
 * Sent on the connection that sent the create, so Redis runs this read after
 * it: a create that reached Redis is seen.
 */
async function ensureQueued(store: JobStore, record: JobRecord, add: () => Promise<unknown>): Promise<EnqueueFate> {
  const current = await store.get(record.id);
  if (!current) return 'withdrawn';
  if (current.status === 'queued' || current.status === 'awaiting_approval') await add();
  return 'kept';
}

/**
 * Takes back the record of an unkeyed job, unless a worker has it already.
 * Deleting the record would not stop a worker that claimed it (the upstream
 * call may be on its way); the store's cancel races the worker's claim on the
 * record in one script, so exactly one wins: a `queued` record becomes
 * `cancelled` and a worker that takes the job then skips it. A record that is
 * missing never landed, and a worker skips a job without one.
 */
async function withdraw(store: JobStore, record: JobRecord): Promise<EnqueueFate> {
  // Only a job no worker ever started: one that ran (even if it now waits for its next try) may have acted upstream.
  const outcome = await store.withdraw(record.id);
  return outcome === 'withdrawn' || outcome === 'missing' || outcome === 'cancelled' ? 'withdrawn' : 'kept';
}

/** An unkeyed job the agent is about to be answered 503 for: kept (a worker has it: it runs, once, and is answered 202), or withdrawn. */
export type Withdrawal = { kept: true } | { kept: false; fate: Promise<EnqueueFate> };

/**
 * Takes back an unkeyed job whose acknowledgement failed: its enqueue was not
 * confirmed, or (durability "replicated") no replica confirmed it. The agent
 * cannot replay a job it has no key for: it is answered 503 and will submit
 * again, so this job must not run, unless it already does. The first try
 * waits at most `withinMs` (what is left of the request's budget; unbounded
 * when the caller bounds it); while Redis does not answer, it is tried again
 * in the background and `fate` settles then (a job kept that late ran
 * despite its 503, and is logged as such).
 */
export async function withdrawUnconfirmed(store: JobStore, queue: ToolQueue, record: JobRecord, logger: Logger, withinMs?: number): Promise<Withdrawal> {
  const attempt = withdraw(store, record);
  const first = await (withinMs === undefined ? attempt : withRedisDeadline(attempt, withinMs)).catch(() => undefined);
  if (first === 'kept') return { kept: true };
  if (first !== undefined) return { kept: false, fate: Promise.resolve(first) };
  const fate = untilAnswered(() => withdraw(store, record), queue).then((settled) => {
    if (settled === 'kept') {
      // The answer (503) is gone; only an Idempotency-Key would have let the agent replay instead of resubmitting.
      logger.error({ jobId: record.id }, RAN_DESPITE_503);
    } else if (settled === undefined) {
      logger.error({ jobId: record.id }, 'could not withdraw a job whose acknowledgement was not confirmed: Redis did not answer');
    }
    return settled ?? 'unknown';
  });
  return { kept: false, fate };
}

/**
 * Writes the job record (claiming the idempotency key in the same Lua call),
 * then hands the job to BullMQ. The record comes first so that a worker never
 * picks up a job that agents cannot see.
 *
 * A failed enqueue is never undone by deleting what was written: Redis may
 * have run the commands and lost only their answers, with a worker already
 * calling the upstream (issue "No write applied twice"). With an idempotency
 * key the record and key are kept and the job is re-added until it is queued;
 * the agent's retry with the same key replays it. Without one, the job is
 * withdrawn unless a worker has it. Either way the caller gets an
 * {@link UnconfirmedEnqueueError}.
 *
 * Runs to the end even when the HTTP request gave up waiting on it (see
 * withRedisDeadline), so its repairs happen here and not in the caller.
 */
export async function enqueueJob(store: JobStore, queue: ToolQueue, request: EnqueueRequest, logger: Logger): Promise<EnqueueOutcome> {
  const { record, options, claim } = request;
  const data: ToolJobData = request.requestId ? { ...request.data, requestId: request.requestId } : request.data;
  const add = () => queue.add(record.tool, data, withHold(options(record.id), record));

  if (!claim) {
    const started = Date.now();
    // Without an idempotency key nothing can refuse the record, so the record
    // and the job are sent together: one round trip instead of two. Redis runs
    // one connection's commands in the order sent, so the record still exists
    // before any worker can take the job (and the worker looks again, briefly,
    // for a record it cannot find on a job this young).
    const [created, added] = await Promise.allSettled([store.create(record), add()]);
    if (created.status === 'fulfilled' && added.status === 'fulfilled') return { kind: 'created', record };
    const cause: unknown = created.status === 'rejected' ? created.reason : (added as PromiseRejectedResult).reason;
    logger.warn({ jobId: record.id, err: (cause as Error).message }, 'job enqueue not confirmed; withdrawing it unless a worker has it');
    const withdrawal = await withdrawUnconfirmed(store, queue, record, logger);
    if (withdrawal.kept) {
      if (Date.now() - started < REDIS_DEADLINE_MS) logger.warn({ jobId: record.id }, 'a worker took the job before its enqueue was confirmed; accepted');
      else logger.error({ jobId: record.id }, RAN_DESPITE_503);
      return { kind: 'created', record };
    }
    const { fate } = withdrawal;
    throw new UnconfirmedEnqueueError(record.id, false, fate, { cause });
  }

  let outcome: CreateOutcome;
  try {
    outcome = await store.create(record, claim);
  } catch (err) {
    // The script may have run and lost only its answer: record and key stay
    // whatever they are, and the job is queued if the record exists.
    logger.warn({ jobId: record.id, err: (err as Error).message }, 'job record not confirmed; kept if it landed');
    throw new UnconfirmedEnqueueError(record.id, true, keepQueued(store, queue, record, add, logger), { cause: err });
  }

  if (outcome.kind === 'created') {
    try {
      await add();
    } catch (err) {
      // Kept, never undone: the add may have landed and a worker may be
      // running the job. Re-added until it is queued; the agent's retry with
      // the same key replays the job (and re-adds it too).
      logger.warn({ jobId: record.id, err: (err as Error).message }, 'job enqueue not confirmed; the job is kept and re-added');
      void keepQueued(store, queue, record, add, logger);
      throw new UnconfirmedEnqueueError(record.id, true, Promise.resolve('kept'), { cause: err });
    }
    return { kind: 'created', record };
  }

  if (outcome.kind === 'reused') return { kind: 'reused' };

  const original = await store.get(outcome.id);
  if (!original) return { kind: 'vanished' };
  if (original.status === 'queued' || original.status === 'awaiting_approval') {
    // The first request's enqueue may not have been confirmed, or it died
    // between writing the record and adding the job. The fingerprint matched,
    // so this request's data is the original's; BullMQ ignores a jobId it
    // already holds, so this is a no-op in the normal case and heals the job
    // otherwise, before the agent is told it exists. A held job is re-added
    // delayed to its own hold's end.
    // Its spend day is the original's: this request reserved nothing (a known key), or gives it back.
    const { spendDay: _day, ...same } = data;
    await queue.add(original.tool, original.spendDay ? { ...same, spendDay: original.spendDay } : same, withHold(options(original.id), original));
  }
  return { kind: 'replayed', record: original };
}

/** {@link ensureQueued} until Redis answers; never rejects. */
function keepQueued(store: JobStore, queue: ToolQueue, record: JobRecord, add: () => Promise<unknown>, logger: Logger): Promise<EnqueueFate> {
  return untilAnswered(() => ensureQueued(store, record, add), queue).then((settled) => {
    if (settled === undefined) logger.error({ jobId: record.id }, 'could not make sure a kept job is queued: Redis did not answer; a replay of its Idempotency-Key re-adds it');
    return settled ?? 'unknown';
  });
}
