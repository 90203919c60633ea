import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { createLogger, type Logger } from '@broker/shared/logger';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { JobStore, type JobRecord } from '@broker/redis/jobs/job-store';
import { newJobId, TERMINAL_STATUSES } from '@broker/shared/jobs/schema';
import { redisKeys } from '@broker/redis/keys';
import { toolJobOptions } from '@broker/shared/jobs/options';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { RedisClient } from '@broker/redis/connection';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { dropPrefix, REDIS_URL } from './redis';
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
    await this.queue(integration).add(tool, { tool, integration, input, connection, agentId: 'agent-test' }, toolJobOptions(id, this.config.integrations[integration]!, 3600));
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

/** A worker in this process and a {@link JobSubmitter} in front of it, on one prefix. */
export interface WorkerRig {
  /** The worker's connection, which the submitter shares. */
  redis: Redis;
  worker: WorkerApp;
  jobs: JobSubmitter;
  /** Closes the worker and the submitter, disconnects, and deletes every key under the prefix. */
  close(): Promise<void>;
}

/** Starts a {@link WorkerRig} for worker tests that need no HTTP in front; resolves once the worker is ready. */
export async function startWorkerRig(config: BrokerConfig, prefix: string, secrets: Record<string, string | undefined>, logger: Logger = testLogger('worker')): Promise<WorkerRig> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = createWorkerApp({ config, redis, prefix, secrets: envSecretsProvider(secrets), logger });
  await worker.ready();
  const jobs = new JobSubmitter(redis, prefix, config);
  return {
    redis,
    worker,
    jobs,
    async close() {
      await worker.close();
      await jobs.close();
      redis.disconnect();
      await dropPrefix(prefix);
    },
  };
}

/**
 * A worker in this process beside an api under test (its key prefix, its
 * secrets), running every integration of `config` but `except`, whose queues
 * the test drives by hand. Resolves once the worker is ready.
 */
export async function startWorkerBeside(
  config: BrokerConfig,
  api: { prefix: string; env: Record<string, string | undefined> },
  label: string,
  except: readonly string[] = [],
): Promise<{ worker: WorkerApp; close(): Promise<void> }> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const integrations = Object.fromEntries(Object.entries(config.integrations).filter(([name]) => !except.includes(name)));
  const worker = createWorkerApp({ config: { ...config, integrations }, redis, prefix: api.prefix, secrets: envSecretsProvider(api.env), logger: testLogger(label) });
  await worker.ready();
  return {
    worker,
    async close() {
      await worker.close();
      redis.disconnect();
    },
  };
}
