import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import {
  bullPrefix,
  createLogger,
  integrationQueueName,
  JobStore,
  newJobId,
  redisKeys,
  TERMINAL_STATUSES,
  toolJobOptions,
  type BrokerConfig,
  type JobRecord,
  type Logger,
  type RedisClient,
} from '@broker/shared';
import { waitFor } from './wait-for';

/** A logger that writes nowhere unless TEST_LOG is set. */
export function testLogger(name = 'test'): Logger {
  return createLogger({ name, level: process.env.TEST_LOG ?? 'silent' });
}

/**
 * Enqueues a tool job the way the api does (record first, then the BullMQ job),
 * for worker tests that do not need HTTP in front.
 */
export class JobSubmitter {
  readonly store: JobStore;
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly config: BrokerConfig,
  ) {
    this.store = new JobStore(redis, redisKeys(prefix), { retentionSeconds: 3600 });
  }

  queue(integration: string): Queue {
    let queue = this.queues.get(integration);
    if (!queue) {
      queue = new Queue(integrationQueueName(integration), { connection: this.redis, prefix: bullPrefix(this.prefix, integrationQueueName(integration)) });
      this.queues.set(integration, queue);
    }
    return queue;
  }

  async submit(tool: string, input: Record<string, unknown>, connection = 'default'): Promise<string> {
    const integration = tool.split('.')[0]!;
    const id = newJobId(randomUUID());
    await this.store.create({
      id,
      tool,
      status: 'queued',
      attempts: 0,
      createdAt: new Date().toISOString(),
      agentId: 'agent-test',
      integration,
      connection,
    });
    await this.queue(integration).add(
      tool,
      { tool, integration, input, connection, agentId: 'agent-test' },
      toolJobOptions(id, this.config.integrations[integration]!, 3600),
    );
    return id;
  }

  /** Waits until the job record is terminal and returns it. */
  async settled(id: string, timeoutMs = 15_000): Promise<JobRecord> {
    return waitFor(
      async () => {
        const record = await this.store.get(id);
        return record && TERMINAL_STATUSES.has(record.status) ? record : undefined;
      },
      { timeoutMs, what: `job ${id} to finish` },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
