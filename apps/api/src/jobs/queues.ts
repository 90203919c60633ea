import { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobData } from '@broker/shared/jobs/schema';

export type ToolQueue = Queue<ToolJobData>;

/**
 * One producer Queue per integration, all on the API's producer connection
 * (BullMQ shares a passed-in ioredis instance and never closes it). The
 * workers consume the same names; see the warning on integrationQueueName.
 */
export function createToolQueues(config: BrokerConfig, connection: RedisClient, prefix: string, logger: Logger): Map<string, ToolQueue> {
  const queues = new Map<string, ToolQueue>();
  for (const integration of Object.keys(config.integrations)) {
    const queue: ToolQueue = new Queue<ToolJobData>(integrationQueueName(integration), { connection, prefix: bullPrefix(prefix, integrationQueueName(integration)) });
    // Without a listener, EventEmitter throws on 'error' and a Redis blip would crash the process.
    queue.on('error', (err) => logger.warn({ queue: queue.name, err: err.message }, 'queue error'));
    queues.set(integration, queue);
  }
  return queues;
}
