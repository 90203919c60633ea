import { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { DeprecationStore } from '@broker/redis/integrations/deprecation-store';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { AlertMonitor } from './alert-monitor';
import { Alerter } from './alerter';
import { DeprecationWatch } from './deprecation-watch';
import { Escalations } from './escalations';

export interface EscalationDeps {
  config: BrokerConfig;
  redis: RedisClient;
  prefix: string;
  keys: RedisKeys;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
}

/** Everything of a worker that raises alerts, built once (docs/operations.md "Alerts"). */
export interface EscalationKit {
  alerter: Alerter;
  escalations: Escalations;
  deprecations: DeprecationWatch;
  monitor: AlertMonitor;
  /** Starts the periodic checks. */
  start(): void;
  /** Stops them and waits for alerts still being sent. */
  close(): Promise<void>;
}

/**
 * The worker's alerting: the Alerter (dedupe, log line, metric, webhook),
 * the per-job escalations, the deprecation watch, and the monitor of
 * breakers and dead letters over `queues` (the tool queues, plus the
 * triggers and callbacks queues when the config has them).
 */
export function createEscalations(deps: EscalationDeps, queues: { tools: () => Iterable<Queue>; callbacks?: Queue | undefined }): EscalationKit {
  const { config, redis, prefix, keys, logger, metrics } = deps;
  const alerter = new Alerter({ redis, keys, config: config.alerts, secrets: deps.secrets, logger: logger.child({ component: 'alerts' }), metrics });
  const escalations = new Escalations(alerter, metrics);
  const deprecations = new DeprecationWatch(new DeprecationStore(redis, keys), alerter, metrics);
  // The trigger worker keeps its queue to itself; a handle of our own reads its failed set.
  const triggers = config.triggerDelivery ? new Queue(TRIGGERS_QUEUE, { connection: redis, prefix: bullPrefix(prefix, TRIGGERS_QUEUE) }) : undefined;
  const watched = () => [...queues.tools(), ...(triggers ? [triggers] : []), ...(queues.callbacks ? [queues.callbacks] : [])];
  const monitor = new AlertMonitor({ redis, keys, alerter, metrics, logger, integrations: Object.keys(config.integrations), queues: watched });
  return {
    alerter,
    escalations,
    deprecations,
    monitor,
    start: () => monitor.start(),
    async close() {
      await monitor.stop();
      await alerter.settled();
      await triggers?.close();
    },
  };
}
