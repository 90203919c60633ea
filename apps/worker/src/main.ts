import { ConfigError } from '@broker/shared/config/load';
import { createLogger } from '@broker/shared/logger';
import { createRedis } from '@broker/redis/connection';
import { describeUnreadableSecrets, unreadableSecrets } from '@broker/tools/secrets/required-secrets';
import { readSettings } from './config';
import { adminTokenChecker, agentKeyChecker } from './metrics/admin-token';
import { startMetricsServer, type MetricsServer } from './metrics/metrics-server';
import { createWorkerApp } from './worker-app';

async function main(): Promise<void> {
  let settings;
  try {
    settings = readSettings();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `worker: ${(err as Error).message}`);
    process.exit(1);
  }
  // Without them every job of an integration fails (or no trigger is signed) while the worker looks healthy: refuse to start instead.
  const missing = await unreadableSecrets(settings.config, settings.secrets, settings.metricsPort === undefined ? ['worker'] : ['worker', 'worker-metrics']);
  if (missing.length > 0) {
    console.error(`worker: ${describeUnreadableSecrets(missing, settings.secrets.kind)}`);
    process.exit(1);
  }
  const logger = createLogger({ name: 'worker', level: settings.logLevel });
  const redis = createRedis(settings.redisUrl, 'worker', 'broker-worker', { cluster: settings.redisCluster, sentinel: settings.redisSentinel });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const app = createWorkerApp({
    config: settings.config,
    redis,
    prefix: settings.prefix,
    secrets: settings.secrets,
    logger,
    lockDurationMs: settings.lockDurationMs,
    stalledIntervalMs: settings.stalledIntervalMs,
    egressProxy: settings.egressProxy,
  });
  await app.ready();
  let metricsServer: MetricsServer | undefined;
  if (settings.metricsPort !== undefined) {
    metricsServer = await startMetricsServer({
      port: settings.metricsPort,
      metrics: app.metrics,
      isAdmin: adminTokenChecker(settings.config, settings.secrets),
      isAgent: agentKeyChecker(settings.config, settings.secrets),
      logger,
    });
  }
  logger.info({ integrations: [...app.workers.keys()] }, 'worker ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining: finishing running jobs');
    const forced = setTimeout(() => {
      logger.error('drain timed out; exiting with jobs still running (they will be retried)');
      process.exit(1);
    }, settings.shutdownTimeoutMs);
    forced.unref();
    await app.close();
    await metricsServer?.close();
    await redis.quit();
    logger.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
