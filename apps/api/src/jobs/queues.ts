import type { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { integrationQueueName } from '@broker/shared/queues';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import { producerQueue } from './producer-queue';

export type ToolQueue = Queue<ToolJobData>;

/**
 * One producer Queue per integration, all on the API's producer connection
 * (BullMQ shares a passed-in ioredis instance and never closes it). The
 * workers consume the same names; see the warning on integrationQueueName.
 */
export function createToolQueues(config: BrokerConfig, connection: RedisClient, prefix: string, logger: Logger): Map<string, ToolQueue> {
  const queues = new Map<string, ToolQueue>();
  for (const integration of Object.keys(config.integrations)) {
    queues.set(integration, producerQueue<ToolJobData>(integrationQueueName(integration), connection, prefix, logger));
  }
  return queues;
}
