import { randomUUID } from 'node:crypto';
import { idempotencySlotTag, newJobId, redisKeys } from '@broker/shared';
import { brokerSide, countFinished } from '../lib/broker.mjs';
import { dropPrefix, redis, redisUsedMemory, rssOf, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { round2 } from '../lib/stats.mjs';
import { startStub } from '../lib/stub.mjs';
import { benchConfig } from './submit.mjs';

const MB = 1024 * 1024;

/**
 * Memory: RSS of the api and the worker at rest and after many jobs, Redis
 * bytes per retained job record and per idempotency key, and whether Redis
 * returns to its baseline once the retention window has passed.
 */
export async function footprint({ quick }) {
  const n = quick ? 500 : 100_000;
  const retentionSeconds = quick ? 2 : 5;
  const stub = await startStub();
  const prefix = uniquePrefix('footprint');
  const rawConfig = {
    ...benchConfig(stub.url, { concurrency: 20 }),
    retention: { jobSeconds: retentionSeconds, idempotencySeconds: retentionSeconds },
  };
  const env = { BROKER_CONFIG: writeConfig(rawConfig), BROKER_REDIS_PREFIX: prefix, PORT: '0', BENCH_AGENT_KEY: 'k', LOG_LEVEL: 'warn' };
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
        growthWhileRetainedMb: round2((loaded.redis - before) / MB),
        growthAfterRetentionMb: round2((after - before) / MB),
      },
      note: 'after retention only BullMQ\'s bounded tail of finished jobs (removeOnComplete count 1000) remains',
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
