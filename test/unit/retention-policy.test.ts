import { Redis } from 'ioredis';
import { callbackJobOptions } from '@broker/shared/jobs/callback-job';
import { EventStore, type NewEvent } from '@broker/redis/webhooks/event-store';
import { JobStore } from '@broker/redis/jobs/job-store';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { toolJobOptions } from '@broker/shared/jobs/options';
import { triggerJobOptions } from '@broker/shared/webhooks/options';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * Memory is bounded by policy: every key the broker writes per job or per
 * event expires, or is trimmed on write, within the configured retention;
 * BullMQ's copies of finished jobs never outlive their records. The soak test
 * (test/chaos/soak.chaos.test.ts) shows the same under load.
 */
const prefix = uniquePrefix('retention');
const keys = redisKeys(prefix);
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await dropPrefix(prefix);
});

const config = (webhooks: Record<string, unknown>) => parseConfig({ integrations: { shop: { baseUrl: 'http://127.0.0.1:9', tools: [] } }, webhooks });

describe('BullMQ keeps finished jobs no longer than their records', () => {
  const shop = config({}).integrations.shop!;

  it('tool jobs: completed at most an hour and never past the record, failed as long as the record', () => {
    expect(toolJobOptions('job_1', shop, 3)).toMatchObject({ removeOnComplete: { age: 3, count: 1000 }, removeOnFail: { age: 3, count: 10_000 } });
    expect(toolJobOptions('job_1', shop, 7 * 86_400)).toMatchObject({ removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 86_400 } });
  });

  it('trigger and callback jobs: the same, by their event or job retention', () => {
    const delivery = { url: 'http://127.0.0.1:9/', secret: 'S', format: 'standard', timeoutMs: 1000, concurrency: 1, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } };
    expect(triggerJobOptions('dlv_1', delivery as never, 3000)).toMatchObject({ removeOnComplete: { age: 3 }, removeOnFail: { age: 3 } });
    expect(callbackJobOptions('job_1', 3)).toMatchObject({ removeOnComplete: { age: 3 }, removeOnFail: { age: 3 } });
  });
});

describe('keys written per job and per event expire', () => {
  it('a job record expires once finished; its idempotency key expires on its own', async () => {
    const store = new JobStore(redis, keys, { retentionSeconds: 3 });
    const record = {
      id: 'job_ret1',
      tool: 'shop.x',
      status: 'queued' as const,
      attempts: 0,
      createdAt: new Date().toISOString(),
      agentId: 'a',
      integration: 'shop',
      connection: 'default',
    };
    await store.create(record, { key: 'k1', fingerprint: 'f', ttlSeconds: 5 });
    const idemTtl = await redis.pttl(keys.idempotency('a', 'k1'));
    expect(idemTtl).toBeGreaterThan(0);
    expect(idemTtl).toBeLessThanOrEqual(5000);
    await store.claimTry(record.id);
    await store.succeed(record.id, { ok: true });
    const ttl = await redis.ttl(keys.job(record.id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3);
  });

  it('an event, its dedupe claim and its index entries expire; old index entries are trimmed by score on write', async () => {
    const store = new EventStore(redis, keys);
    const event = (eventId: string, receivedAt: Date): NewEvent => ({
      id: `src:${eventId}`,
      source: 'src',
      eventId,
      type: 'thing.happened',
      receivedAt,
      verifiedAt: receivedAt,
      headers: {},
      body: Buffer.from('{}'),
    });
    const options = { retentionMs: 2000, outboxAt: Date.now() };
    for (const e of [event('old', new Date(Date.now() - 10_000)), event('new', new Date())]) {
      expect(await store.ingest(e, [], options)).toBeDefined();
    }

    for (const key of [
      keys.webhookDedupe('src', 'new'),
      keys.webhookEvent('src:new'),
      keys.webhookIndex({ source: 'src' }),
      keys.webhookIndex({ source: 'src', type: 'thing.happened' }),
    ]) {
      const ttl = await redis.pttl(key);
      expect([key, ttl > 0 && ttl <= 2000]).toEqual([key, true]);
    }
    // The entry received 10 s ago is past the 2 s index retention: the second write trimmed it.
    for (const index of [keys.webhookIndex({ source: 'src' }), keys.webhookIndex({ source: 'src', type: 'thing.happened' })]) {
      expect(await redis.zrange(index, 0, -1)).toEqual(['src:new']);
    }
  });
});
