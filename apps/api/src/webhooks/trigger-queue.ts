import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { TRIGGERS_QUEUE, type Logger, type TriggerJobData } from '@broker/shared';

export type TriggerQueue = Queue<TriggerJobData>;

/** The producer side of the trigger deliveries; the worker consumes the same name (see TRIGGERS_QUEUE). */
export function createTriggerQueue(connection: Redis, prefix: string, logger: Logger): TriggerQueue {
  const queue: TriggerQueue = new Queue<TriggerJobData>(TRIGGERS_QUEUE, { connection, prefix });
  queue.on('error', (err) => logger.warn({ queue: queue.name, err: err.message }, 'queue error'));
  return queue;
}
