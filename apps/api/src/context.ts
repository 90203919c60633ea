import type { Redis } from 'ioredis';
import type { BrokerConfig, JobStore, Logger, Metrics } from '@broker/shared';
import type { Catalogue } from '@broker/tools/catalogue';
import type { JobEventHub } from './jobs/job-events';
import type { ToolQueue } from './jobs/queues';

/** What route handlers share, built once by createApi. */
export interface ApiContext {
  config: BrokerConfig;
  catalogue: Catalogue;
  /** By integration name. */
  queues: ReadonlyMap<string, ToolQueue>;
  store: JobStore;
  events: JobEventHub;
  /** The producer connection: fails fast while Redis is away. */
  redis: Redis;
  logger: Logger;
  /** This process's Prometheus metrics. */
  metrics: Metrics;
}
