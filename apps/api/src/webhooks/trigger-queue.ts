import { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import type { Logger } from '@broker/shared/logger';
import type { TriggerJobData } from '@broker/shared/webhooks/schema';

export type TriggerQueue = Queue<TriggerJobData>;

/** The producer side of the trigger deliveries; the worker consumes the same name (see TRIGGERS_QUEUE). */
export function createTriggerQueue(connection: RedisClient, prefix: string, logger: Logger): TriggerQueue {
  const queue: TriggerQueue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection, prefix: bullPrefix(prefix, TRIGGERS_QUEUE) });
  queue.on('error', (err) => logger.warn({ queue: queue.name, err: err.message }, 'queue error'));
  return queue;
}
