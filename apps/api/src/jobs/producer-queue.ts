import { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix } from '@broker/shared/queues';
import type { Logger } from '@broker/shared/logger';

/**
 * A producer Queue on the api's connection (BullMQ shares a passed-in ioredis
 * instance and never closes it), with its errors logged.
 *
 * `skipVersionCheck`: BullMQ sets a connection up once, reading the server
 * version with INFO, and a setup that fails is never tried again (BullMQ
 * 6.7): one INFO lost to the producer's 1.5 s command timeout at start would
 * leave every add of that queue failing while Redis answers. Nothing a
 * producer sends depends on the version; the workers check it at their start.
 */
export function producerQueue<T>(name: string, connection: RedisClient, prefix: string, logger: Logger): Queue<T> {
  const queue = new Queue<T>(name, { connection, prefix: bullPrefix(prefix, name), skipVersionCheck: true });
  // Without a listener, EventEmitter throws on 'error' and a Redis blip would crash the process.
  queue.on('error', (err) => logger.warn({ queue: name, err: err.message }, 'queue error'));
  return queue;
}
