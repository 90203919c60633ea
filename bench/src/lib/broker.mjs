import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { createLogger } from '@broker/shared/logger';
import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { JobStore } from '@broker/redis/jobs/job-store';
import { newJobId } from '@broker/shared/jobs/schema';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { toolJobOptions } from '@broker/shared/jobs/options';
import { createWorkerApp } from '@broker/worker';
import { REDIS_URL } from './env.mjs';

/** Production log level, written nowhere: we pay for building log lines, not for a terminal. */
export function quietLogger(name) {
  return createLogger({ name, level: 'info', destination: { write() {} } });
}

/** The broker's worker in this process, plus an enqueuer that writes jobs the way the api does. */
export function brokerSide(redis, prefix, rawConfig) {
  const config = parseConfig(rawConfig);
  const integration = config.integrations.bench;
  const store = new JobStore(redis, redisKeys(prefix), { retentionSeconds: 3600 });
  const queue = new Queue(integrationQueueName('bench'), { connection: redis, prefix: bullPrefix(prefix, integrationQueueName('bench')) });
  return {
    config,
    store,
    queue,
    /** The worker as its main.ts runs it: on a worker-role connection of its own, closed with it. */
    startWorker: () => {
      const connection = createRedis(REDIS_URL, 'worker', 'bench-worker');
      const app = createWorkerApp({ config, redis: connection, prefix, secrets: envSecretsProvider({}), logger: quietLogger('worker') });
      return {
        ready: () => app.ready(),
        close: async () => {
          await app.close();
          connection.disconnect();
        },
      };
    },
    /** Adds `n` jobs (records + BullMQ jobs) in pipelined batches; returns their ids. */
    async enqueue(n) {
      const ids = [];
      for (let i = 0; i < n; i += 500) {
        const batch = Array.from({ length: Math.min(500, n - i) }, () => newJobId(randomUUID()));
        await Promise.all(
          batch.map((id) =>
            store.create({
              id,
              tool: 'bench.echo',
              status: 'queued',
              attempts: 0,
              createdAt: new Date().toISOString(),
              agentId: 'bench',
              integration: 'bench',
              connection: 'default',
            }),
          ),
        );
        await queue.addBulk(
          batch.map((id) => ({
            name: 'bench.echo',
            data: { tool: 'bench.echo', integration: 'bench', input: { id: 'c_1' }, connection: 'default', agentId: 'bench' },
            opts: toolJobOptions(id, integration, 3600),
          })),
        );
        ids.push(...batch);
      }
      return ids;
    },
  };
}

/** Resolves after `n` job ids were published as finished on the job-events channel. */
export async function countFinished(subscriber, prefix, n, onEach) {
  const channel = redisKeys(prefix).jobEvents;
  await subscriber.subscribe(channel);
  return new Promise((resolve) => {
    let seen = 0;
    const listener = (ch, id) => {
      if (ch !== channel) return;
      onEach?.(id);
      if (++seen === n) {
        subscriber.off('message', listener);
        subscriber.unsubscribe(channel).then(() => resolve());
      }
    };
    subscriber.on('message', listener);
  });
}
