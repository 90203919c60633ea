import type { Queue } from 'bullmq';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { SpendJob } from '@broker/redis/limits/spend-reservations';
import type { IntegrationClient, ToolRegistry } from '@broker/tools';
import type { DeprecationWatch } from '../alerts/deprecation-watch';
import type { Escalations } from '../alerts/escalations';
import type { AsyncWaits } from '../async-tools/async-waits';
import type { JobAudit } from '../audit/job-audit';
import type { AdaptiveLimits } from '../limits/adaptive-limits';
import type { CallGate } from '../limits/call-gate';
import type { CircuitBreaker } from '../limits/circuit-breaker';

export interface ToolJobDeps {
  config: BrokerConfig;
  registry: ToolRegistry;
  clients: ReadonlyMap<string, IntegrationClient>;
  store: JobStore;
  gate: CallGate;
  breaker: CircuitBreaker;
  adaptive: AdaptiveLimits;
  queues: ReadonlyMap<string, Queue>;
  logger: Logger;
  metrics: Metrics;
  /** Queues the callback of a job found already finished (its worker died before it could); idempotent. */
  resendCallback?: (jobId: string) => Promise<void>;
  /** Async tools: the wait after a `pending` first answer (absent: a pending answer fails the job UNKNOWN). */
  asyncWaits?: AsyncWaits;
  /** Escalates what retries cannot fix (schema drift here). */
  escalations?: Escalations;
  /** Records upstream deprecation and sunset notices. */
  deprecations?: DeprecationWatch;
  /** Spend caps: commits a capped job's amounts before its first upstream request (commitSpend in @broker/redis). */
  commitSpend?: (job: SpendJob) => Promise<void>;
  /** The audit trail's `call` and `verified` entries of each try. */
  audit?: JobAudit;
}
