import type { RedisClient } from '@broker/redis/connection';
import type { AuditTrail } from '@broker/redis/audit/audit-trail';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { EventStore } from '@broker/redis/webhooks/event-store';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { Catalogue } from '@broker/tools/descriptors';
import type { ApprovalHolds } from './jobs/approval-holds';
import type { CallbackQueue } from './jobs/callbacks';
import type { JobEventHub } from './jobs/job-events';
import type { DailyJobCaps } from './limits/daily-job-caps';
import type { SpendCaps } from './limits/spend-caps';
import type { ToolQueue } from './jobs/queues';
import type { TriggerQueue } from './webhooks/trigger-queue';

/** What route handlers share, built once by createApi. */
export interface ApiContext {
  config: BrokerConfig;
  catalogue: Catalogue;
  /** By integration name. */
  queues: ReadonlyMap<string, ToolQueue>;
  /** Completion callbacks of jobs the api finishes itself (cancel); the worker delivers them. */
  callbacks: CallbackQueue;
  store: JobStore;
  events: JobEventHub;
  /** The producer connection: fails fast while Redis is away. */
  redis: RedisClient;
  logger: Logger;
  /** This process's Prometheus metrics. */
  metrics: Metrics;
  /** Stored webhook events and their deliveries. */
  eventStore: EventStore;
  /** Trigger deliveries, consumed by the worker. */
  triggers: TriggerQueue;
  /** Cost guard: each agent's jobs per UTC day per tool glob (`agents[].dailyJobCaps`). */
  dailyJobCaps: DailyJobCaps;
  /** Approval holds (config `approvals`): which submissions wait for an operator, and their alerts. */
  approvals: ApprovalHolds;
  /** Spend guard: the sum of an input field per UTC day per tool glob (`agents[].spendCaps`). */
  spendCaps: SpendCaps;
  /** The audit trail: the api records submissions, cancels, retries and approval decisions (`GET /v1/audit` reads it). */
  audit: AuditTrail;
}
