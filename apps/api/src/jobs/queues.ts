import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { integrationQueueName, type BrokerConfig, type Logger, type ToolJobData } from '@broker/shared';

export type ToolQueue = Queue<ToolJobData>;

/**
 * One producer Queue per integration, all on the API's producer connection
 * (BullMQ shares a passed-in ioredis instance and never closes it). The
 * workers consume the same names; see the warning on integrationQueueName.
 */
export function createToolQueues(
  config: BrokerConfig,
  connection: Redis,
  prefix: string,
  logger: Logger,
): Map<string, ToolQueue> {
  const queues = new Map<string, ToolQueue>();
  for (const integration of Object.keys(config.integrations)) {
    const queue: ToolQueue = new Queue<ToolJobData>(integrationQueueName(integration), { connection, prefix });
    // Without a listener, EventEmitter throws on 'error' and a Redis blip would crash the process.
    queue.on('error', (err) => logger.warn({ queue: queue.name, err: err.message }, 'queue error'));
    queues.set(integration, queue);
  }
  return queues;
}
