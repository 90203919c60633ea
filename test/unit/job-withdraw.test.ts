import { Redis } from 'ioredis';
import { JobStore } from '@broker/redis/jobs/job-store';
import { redisKeys } from '@broker/redis/keys';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * Withdrawing a submission whose enqueue was never confirmed: only a job no
 * worker ever started may be cancelled under the agent, never one that ran
 * and now waits for its next try (it may have acted upstream).
 */
const prefix = uniquePrefix('withdraw');
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const store = new JobStore(redis, redisKeys(prefix), { retentionSeconds: 60 });

afterAll(async () => {
  await dropPrefix(prefix);
  redis.disconnect();
});

async function queuedJob(id: string): Promise<void> {
  await store.create({
    id,
    tool: 'demo.createOrder',
    status: 'queued',
    attempts: 0,
    createdAt: new Date().toISOString(),
    agentId: 'a',
    integration: 'demo',
    connection: 'default',
  });
}

it('withdraws a job no worker started', async () => {
  await queuedJob('job_w1');
  expect(await store.withdraw('job_w1')).toBe('withdrawn');
  expect((await store.get('job_w1'))?.status).toBe('cancelled');
});

it('keeps a job a worker started, also while it waits for its next try', async () => {
  await queuedJob('job_w2');
  expect((await store.claimTry('job_w2')).status).toBe('running');
  expect(await store.withdraw('job_w2')).toBe('running');
  await store.markWaiting('job_w2', 'queued');
  expect(await store.withdraw('job_w2')).toBe('claimed');
  expect((await store.get('job_w2'))?.status).toBe('queued');
});

it('tells a claim whether the previous try never reported back (the record was still running)', async () => {
  await queuedJob('job_w4');
  expect(await store.claimTry('job_w4')).toMatchObject({ status: 'running', interrupted: false });
  // Its worker died mid-call: the re-run finds the record running.
  expect(await store.claimTry('job_w4')).toMatchObject({ status: 'running', attempts: 2, interrupted: true });
  await store.markWaiting('job_w4', 'queued');
  expect(await store.claimTry('job_w4')).toMatchObject({ interrupted: false });
});

it('says missing for a record that never landed', async () => {
  expect(await store.withdraw('job_w3')).toBe('missing');
});
