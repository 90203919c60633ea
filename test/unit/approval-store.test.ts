import { DelayedError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { JobStore, type JobRecord } from '@broker/redis/jobs/job-store';
import { redisKeys } from '@broker/redis/keys';
import type { JobHold } from '@broker/shared/jobs/approvals';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import { APPROVAL_EXPIRED_ERROR, endHold } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * The job store's approval transitions, each one script on the record:
 * approve, deny, the agent's cancel and the worker's expiry race safely, the
 * claim never takes a held job, and the index lists what is still held.
 */
const prefix = uniquePrefix('approval-store');
const keys = redisKeys(prefix);
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
let clock = Math.floor(Date.now() / 1000) * 1000;
const store = new JobStore(redis, keys, { retentionSeconds: 60, now: () => new Date(clock) });
let n = 0;

async function heldJob(timeoutSeconds = 60, agentId = 'agent-a'): Promise<JobRecord> {
  const createdAt = new Date(clock);
  const hold: JobHold = { rule: { index: 0, tools: 'demo.*', timeoutSeconds }, expiresAt: new Date(clock + timeoutSeconds * 1000).toISOString() };
  const record: JobRecord = {
    id: `job_${(++n).toString(16).padStart(32, '0')}`,
    tool: 'demo.refund',
    status: 'awaiting_approval',
    attempts: 0,
    createdAt: createdAt.toISOString(),
    agentId,
    integration: 'demo',
    connection: 'default',
    hold,
  };
  expect((await store.create(record)).kind).toBe('created');
  return record;
}

afterAll(async () => {
  redis.disconnect();
  await dropPrefix(prefix);
});

describe('approval transitions on the job record', () => {
  it('the claim never takes a held job, nor counts an attempt', async () => {
    const job = await heldJob();
    expect(await store.claimTry(job.id, 'try-1')).toEqual({ status: 'awaiting_approval', attempts: 0, interrupted: false });
    expect(await store.get(job.id)).toMatchObject({ status: 'awaiting_approval', attempts: 0 });
    expect((await store.get(job.id))?.startedAt).toBeUndefined();
  });

  it('approve: queued, with the decision; a second decision is a conflict; then the claim takes it', async () => {
    const job = await heldJob();
    const approved = await store.approve(job.id, { by: 'admin', reason: 'ok' });
    expect(approved).toMatchObject({ kind: 'decided', record: { status: 'queued', decision: { outcome: 'approved', by: 'admin', reason: 'ok' }, hold: job.hold } });
    expect(await store.deny(job.id, { by: 'admin' }, { code: 'APPROVAL_DENIED', message: 'no', retryable: false })).toEqual({ kind: 'conflict', status: 'queued' });
    expect(await store.approve(job.id, { by: 'admin' })).toEqual({ kind: 'conflict', status: 'queued' });
    expect((await store.claimTry(job.id, 'try-1')).status).toBe('running');
  });

  it('deny: failed with the error, the record now expires, the long-polls are told', async () => {
    const job = await heldJob();
    const sub = new Redis(REDIS_URL);
    const published = new Promise<string>((resolve) => sub.on('message', (_c, id: string) => resolve(id)));
    await sub.subscribe(keys.jobEvents);
    try {
      const denied = await store.deny(job.id, { by: 'agent-c', reason: 'no' }, { code: 'APPROVAL_DENIED', message: 'An operator denied the job: no', retryable: false }, 'agent-c');
      expect(denied).toMatchObject({
        kind: 'decided',
        record: { status: 'failed', finishedAt: expect.any(String), error: { code: 'APPROVAL_DENIED' }, decision: { outcome: 'denied', by: 'agent-c' } },
      });
      expect(await published).toBe(job.id);
      expect(await redis.ttl(keys.job(job.id))).toBeGreaterThan(0);
    } finally {
      sub.disconnect();
    }
  });

  it('an agent may not decide on its own job', async () => {
    const job = await heldJob(60, 'agent-c');
    expect(await store.approve(job.id, { by: 'agent-c' }, 'agent-c')).toEqual({ kind: 'own' });
    expect(await store.deny(job.id, { by: 'agent-c' }, APPROVAL_EXPIRED_ERROR, 'agent-c')).toEqual({ kind: 'own' });
    expect((await store.approve(job.id, { by: 'agent-a' }, 'agent-a')).kind).toBe('decided');
  });

  it('past the deadline: approve and deny are refused as expired, the expiry wins; before it the expiry is early', async () => {
    const job = await heldJob(10);
    expect(await store.expireHold(job.id, APPROVAL_EXPIRED_ERROR)).toEqual({ kind: 'early', untilMs: clock + 10_000 });
    clock += 10_000;
    try {
      expect(await store.approve(job.id, { by: 'admin' })).toEqual({ kind: 'expired' });
      expect(await store.deny(job.id, { by: 'admin' }, APPROVAL_EXPIRED_ERROR)).toEqual({ kind: 'expired' });
      const expired = await store.expireHold(job.id, APPROVAL_EXPIRED_ERROR);
      expect(expired).toMatchObject({ kind: 'expired', record: { status: 'failed', error: { code: 'APPROVAL_EXPIRED' }, decision: { outcome: 'expired' } } });
      expect(await store.expireHold(job.id, APPROVAL_EXPIRED_ERROR)).toEqual({ kind: 'conflict', status: 'failed' });
    } finally {
      clock -= 10_000;
    }
  });

  it('cancel takes a held job (and says from where); then nothing else can', async () => {
    const job = await heldJob();
    expect(await store.cancel(job.id, 'agent-b')).toEqual({ kind: 'missing' });
    expect(await store.cancel(job.id, 'agent-a')).toEqual({ kind: 'cancelled', from: 'awaiting_approval' });
    expect(await store.approve(job.id, { by: 'admin' })).toEqual({ kind: 'conflict', status: 'cancelled' });
    expect(await store.expireHold(job.id, APPROVAL_EXPIRED_ERROR)).toEqual({ kind: 'conflict', status: 'cancelled' });
    expect(await store.cancel(job.id, 'agent-a')).toEqual({ kind: 'conflict', status: 'cancelled' });
  });

  it('of many concurrent decisions, exactly one wins', async () => {
    for (let round = 0; round < 10; round++) {
      const job = await heldJob();
      const outcomes = await Promise.all([
        store.approve(job.id, { by: 'admin' }),
        store.deny(job.id, { by: 'admin' }, { code: 'APPROVAL_DENIED', message: 'no', retryable: false }),
        store.cancel(job.id, 'agent-a'),
        store.approve(job.id, { by: 'agent-c' }, 'agent-c'),
      ]);
      const [approved, denied, cancelled, approvedByAgent] = outcomes;
      const decided = [approved, denied, approvedByAgent].filter((o) => o.kind === 'decided');
      // The cancel either took the held job (and no decision happened), or came after an approval (a queued job may be cancelled).
      if (cancelled.kind === 'cancelled' && cancelled.from === 'awaiting_approval') expect(decided).toHaveLength(0);
      else expect(decided).toHaveLength(1);
      if (cancelled.kind === 'cancelled' && cancelled.from === 'queued') expect(denied.kind).not.toBe('decided');
    }
  });

  it('lists held jobs oldest first, drops entries of jobs no longer held, keeps young entries without a record', async () => {
    const first = await heldJob();
    clock += 1000;
    const second = await heldJob();
    clock += 1000;
    const decided = await heldJob();
    await store.approve(decided.id, { by: 'admin' });
    // An entry whose record has not landed yet (the index is written first).
    await redis.zadd(keys.approvals, clock, 'job_young');
    await redis.zadd(keys.approvals, clock - 120_000, 'job_gone');
    // A stale entry the approval could not remove.
    await redis.zadd(keys.approvals, clock, decided.id);
    const ids = (await store.listHeld(100)).map((r) => r.id);
    expect(ids.indexOf(first.id)).toBeLessThan(ids.indexOf(second.id));
    expect(ids).not.toContain(decided.id);
    expect(await redis.zscore(keys.approvals, decided.id)).toBeNull();
    expect(await redis.zscore(keys.approvals, 'job_gone')).toBeNull();
    expect(await redis.zscore(keys.approvals, 'job_young')).not.toBeNull();
    expect(await store.listHeld(1)).toHaveLength(1);
  });
});

describe('the worker at a held job (endHold)', () => {
  const log = testLogger('end-hold');
  /** A stand-in for the active BullMQ job: records where it was moved. */
  const fakeJob = (id: string) => {
    const moves: number[] = [];
    const job = { id, moveToDelayed: async (at: number) => void moves.push(at) } as unknown as Job<ToolJobData>;
    return { job, moves };
  };
  const deps = { store } as never;

  it('expires a job past its deadline: it completes, no retry', async () => {
    const held = await heldJob(5);
    clock += 5000;
    try {
      const { job, moves } = fakeJob(held.id);
      expect(await endHold(deps, job, 'token', log)).toEqual({ status: 'failed' });
      expect(moves).toEqual([]);
      expect(await store.get(held.id)).toMatchObject({ status: 'failed', error: APPROVAL_EXPIRED_ERROR });
    } finally {
      clock -= 5000;
    }
  });

  it('puts a job taken before its deadline back until the deadline', async () => {
    const held = await heldJob(3600);
    const { job, moves } = fakeJob(held.id);
    await expect(endHold(deps, job, 'token', log)).rejects.toBeInstanceOf(DelayedError);
    expect(moves).toEqual([clock + 3600_000]);
    expect((await store.get(held.id))?.status).toBe('awaiting_approval');
  });

  it('runs a job approved between the claim and the expiry: it is put back to be taken at once', async () => {
    const held = await heldJob(5);
    await store.approve(held.id, { by: 'admin' });
    clock += 5000;
    try {
      const { job, moves } = fakeJob(held.id);
      const before = Date.now();
      await expect(endHold(deps, job, 'token', log)).rejects.toBeInstanceOf(DelayedError);
      expect(moves).toHaveLength(1);
      expect(moves[0]).toBeGreaterThanOrEqual(before);
      expect((await store.get(held.id))?.status).toBe('queued');
    } finally {
      clock -= 5000;
    }
  });

  it('leaves a job cancelled meanwhile alone', async () => {
    const held = await heldJob(5);
    await store.cancel(held.id, 'agent-a');
    const { job, moves } = fakeJob(held.id);
    expect(await endHold(deps, job, 'token', log)).toEqual({ status: 'cancelled' });
    expect(moves).toEqual([]);
  });
});
