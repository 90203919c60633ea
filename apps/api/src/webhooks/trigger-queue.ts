import type { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { TRIGGERS_QUEUE } from '@broker/shared/queues';
import type { Logger } from '@broker/shared/logger';
import type { TriggerJobData } from '@broker/shared/webhooks/schema';
import { producerQueue } from '../jobs/producer-queue';

export type TriggerQueue = Queue<TriggerJobData>;

/** The producer side of the trigger deliveries; the worker consumes the same name (see TRIGGERS_QUEUE). */
export function createTriggerQueue(connection: RedisClient, prefix: string, logger: Logger): TriggerQueue {
  return producerQueue<TriggerJobData>(TRIGGERS_QUEUE, connection, prefix, logger);
}
