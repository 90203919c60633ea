import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { EventStore, type NewDelivery } from '@broker/redis/webhooks/event-store';
import { redisKeys } from '@broker/redis/keys';
import type { TriggerJobData } from '@broker/shared/webhooks/schema';
import { OutboxSweeper } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { webhookConfig } from './harness';

/*
 * The sweeper against a real Redis and a real BullMQ queue that no worker
 * consumes, so what it leaves behind can be read back exactly.
 */
describe('outbox sweeper', () => {
  const prefix = uniquePrefix('outbox');
  const keys = redisKeys(prefix);
  const config = webhookConfig();
  let redis: Redis;
  let store: EventStore;
  let queue: Queue<TriggerJobData>;
  let sweeper: OutboxSweeper;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    store = new EventStore(redis, keys);
    queue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection: redis, prefix: bullPrefix(prefix, TRIGGERS_QUEUE) });
    sweeper = new OutboxSweeper({ config, store, queue, logger: testLogger() }, 60_000);
  });
  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    await dropPrefix(prefix);
  });

  /** Stores a github event with one pending delivery, already due in the outbox. */
  async function storeEvent(eventId: string): Promise<NewDelivery> {
    const now = new Date();
    const delivery: NewDelivery = { deliveryId: `dlv_${eventId}`, trigger: 'github_activity', replay: false, createdAt: now.toISOString() };
    const event = { id: `github:${eventId}`, source: 'github', eventId, type: 'push', receivedAt: now, verifiedAt: now, headers: {}, body: Buffer.from('{}') };
    expect(await store.ingest(event, [delivery], { retentionMs: 60_000, outboxAt: Date.now() - 1 })).toBeDefined();
    return delivery;
  }

  const statusOf = async (eventId: string) => (await store.get(`github:${eventId}`))?.deliveries[0]?.status;

  it('a due delivery whose job is already queued is only marked queued: no second job, nothing re-enqueued', async () => {
    const delivery = await storeEvent('gh-backlog');
    // What the api does after the script: the job exists, the stored status stays pending.
    await queue.add(
      delivery.trigger,
      { deliveryId: delivery.deliveryId, eventId: 'github:gh-backlog', source: 'github', trigger: delivery.trigger, replay: false },
      { jobId: delivery.deliveryId },
    );
    expect(await statusOf('gh-backlog')).toBe('pending');

    expect(await sweeper.sweep()).toBe(0);
    expect(await statusOf('gh-backlog')).toBe('queued');
    expect(await redis.zcard(keys.webhookOutbox('github'))).toBe(0);
    expect(await queue.getWaitingCount()).toBe(1);
  });

  it('a due delivery without a job (its request died) is enqueued once, under its delivery id', async () => {
    const delivery = await storeEvent('gh-orphan');
    expect(await sweeper.sweep()).toBe(1);
    expect(await statusOf('gh-orphan')).toBe('queued');
    const job = await queue.getJob(delivery.deliveryId);
    expect(job?.data).toMatchObject({ deliveryId: delivery.deliveryId, eventId: 'github:gh-orphan', trigger: 'github_activity' });
    expect(await sweeper.sweep()).toBe(0);
    expect(await queue.getWaitingCount()).toBe(2);
  });

  it('drains more than one page of due entries in one sweep', async () => {
    await Promise.all(Array.from({ length: 450 }, (_, i) => storeEvent(`gh-many-${i}`)));
    expect(await sweeper.sweep()).toBe(450);
    expect(await redis.zcard(keys.webhookOutbox('github'))).toBe(0);
    expect(await queue.getWaitingCount()).toBe(452);
  });
});
