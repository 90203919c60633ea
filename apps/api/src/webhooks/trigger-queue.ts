import { Queue } from 'bullmq';
import type { RedisClient } from '@broker/shared';
import { bullPrefix, TRIGGERS_QUEUE, type Logger, type TriggerJobData } from '@broker/shared';

export type TriggerQueue = Queue<TriggerJobData>;

/** The producer side of the trigger deliveries; the worker consumes the same name (see TRIGGERS_QUEUE). */
export function createTriggerQueue(connection: RedisClient, prefix: string, logger: Logger): TriggerQueue {
  const queue: TriggerQueue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection, prefix: bullPrefix(prefix, TRIGGERS_QUEUE) });
  queue.on('error', (err) => logger.warn({ queue: queue.name, err: err.message }, 'queue error'));
  return queue;
}
