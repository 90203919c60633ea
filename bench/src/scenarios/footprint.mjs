import { randomBytes, randomUUID } from 'node:crypto';
import { idempotencySlotTag, redisKeys } from '@broker/redis/keys';
import { newJobId } from '@broker/shared/jobs/schema';
import { brokerSide, countFinished } from '../lib/broker.mjs';
import { apiUrlOf, dropPrefix, redis, redisUsedMemory, rssOf, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { round2 } from '../lib/stats.mjs';
import { stripeSignature } from '../lib/stripe-signature.mjs';
import { startStub } from '../lib/stub.mjs';
import { benchConfig } from './submit.mjs';

const MB = 1024 * 1024;

const STRIPE_SECRET = `whsec_${randomBytes(24).toString('hex')}`;

/** A Stripe event as Stripe signs it, posted to the api; resolves with its id. */
async function postEvent(apiUrl, i) {
  const id = `evt_${String(i).padStart(6, '0')}${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({
    id,
    object: 'event',
    type: 'customer.created',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `cus_${randomBytes(8).toString('hex')}`, object: 'customer', email: `user${i}@example.com`, name: 'Ada Lovelace' } },
  });
  const res = await fetch(`${apiUrl}/hooks/stripe`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(STRIPE_SECRET, body) },
  });
  if (res.status !== 200) throw new Error(`event ${i}: ${res.status} ${await res.text()}`);
  return id;
}

/**
 * Memory: RSS of the api and the worker at rest and after many jobs, Redis
 * bytes per retained job record, per idempotency key, per stored webhook
 * event and per event dedupe key, and whether Redis returns to its baseline
 * once the retention window has passed.
 */
export async function footprint({ quick }) {
  const n = quick ? 500 : 100_000;
  const retentionSeconds = quick ? 2 : 5;
  const stub = await startStub();
  const prefix = uniquePrefix('footprint');
  const rawConfig = {
    ...benchConfig(stub.url, { concurrency: 20 }),
    retention: { jobSeconds: retentionSeconds, idempotencySeconds: retentionSeconds },
    // Stored and deduplicated, routed nowhere: the bytes of the event itself.
    webhooks: { stripe: { type: 'stripe', secret: 'BENCH_STRIPE_SECRET', retentionDays: retentionSeconds / 86_400 } },
  };
  const env = {
    BROKER_CONFIG: writeConfig(rawConfig),
    BROKER_REDIS_PREFIX: prefix,
    PORT: '0',
    BENCH_AGENT_KEY: 'k',
    BENCH_STRIPE_SECRET: STRIPE_SECRET,
    LOG_LEVEL: 'warn',
  };
  const conn = redis();
  const sub = redis();
  const api = startApp('api', { ...env, LOG_LEVEL: 'info' });
  const worker = startApp('worker', { ...env, LOG_LEVEL: 'info' });
  try {
    await Promise.all([api.ready, worker.ready]);
    const rest = { api: rssOf(api.child.pid), worker: rssOf(worker.child.pid) };
    const before = await redisUsedMemory(conn);

    // Records alone (no BullMQ job yet): bytes per retained job record.
    const broker = brokerSide(conn, prefix, rawConfig);
    const probe = await redisUsedMemory(conn);
    const sampleIds = [];
    for (let i = 0; i < 1000; i++) {
      const key = `key-${i}`.padEnd(64, 'x');
      const id = newJobId(randomUUID(), idempotencySlotTag('bench', key));
      sampleIds.push(id);
      await broker.store.create(
        { id, tool: 'bench.echo', status: 'queued', attempts: 0, createdAt: new Date().toISOString(), agentId: 'bench', integration: 'bench', connection: 'default' },
        { key, fingerprint: 'f'.repeat(64), ttlSeconds: retentionSeconds },
      );
    }
    const perRecordAndKey = ((await redisUsedMemory(conn)) - probe) / 1000;
    const keys = redisKeys(prefix);
    const idemKeyBytes = Number(await conn.memory('USAGE', keys.idempotency('bench', 'key-0'.padEnd(64, 'x'))));
    await conn.del(...sampleIds.map((id) => keys.job(id)));

    // Webhook events (each with its dedupe key and its entries in the source's listing indexes).
    const apiUrl = apiUrlOf(api);
    const beforeEvents = await redisUsedMemory(conn);
    const eventIds = [];
    for (let i = 0; i < 1000; i += 50) eventIds.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => postEvent(apiUrl, i + j)))));
    const perEvent = ((await redisUsedMemory(conn)) - beforeEvents) / eventIds.length;
    // The last event's: the first one's key may already have expired (a short retention, a slow machine).
    const dedupeKeyBytes = Number(await conn.memory('USAGE', keys.webhookDedupe('stripe', eventIds.at(-1))));

    const done = countFinished(sub, prefix, n);
    for (let i = 0; i < n; i += 5000) await broker.enqueue(Math.min(5000, n - i));
    await done;
    const loaded = { api: rssOf(api.child.pid), worker: rssOf(worker.child.pid), redis: await redisUsedMemory(conn) };

    // Wait past the retention window (records and keys expire on their own).
    await new Promise((r) => setTimeout(r, (retentionSeconds + 2) * 1000));
    const after = await redisUsedMemory(conn);
    await broker.queue.close();
    return {
      jobs: n,
      rssMb: {
        apiAtRest: round2(rest.api / MB),
        workerAtRest: round2(rest.worker / MB),
        apiAfter: round2(loaded.api / MB),
        workerAfter: round2(loaded.worker / MB),
      },
      redisBytes: {
        perJobRecordWithIdempotencyKey: Math.round(perRecordAndKey),
        perIdempotencyKey: idemKeyBytes,
        perEvent: Math.round(perEvent),
        perEventDedupeKey: dedupeKeyBytes,
        growthWhileRetainedMb: round2((loaded.redis - before) / MB),
        growthAfterRetentionMb: round2((after - before) / MB),
      },
      note: "after retention only BullMQ's bounded tail of finished jobs (removeOnComplete count 1000) remains; events and their dedupe keys expire with the source's retentionDays",
    };
  } finally {
    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    await Promise.all([api.exited, worker.exited]);
    conn.disconnect();
    sub.disconnect();
    await stub.close();
    await dropPrefix(prefix);
  }
}
