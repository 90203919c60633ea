import { createSecretsProvider, type SecretsProvider } from '@broker/tools/secrets/provider';
import { loadCheckedConfigFile } from '@broker/tools/descriptors';
import { secretsSettingsFromEnv } from '@broker/tools/secrets/settings';
import { sentinelSettingsFromEnv, type SentinelSettings } from '@broker/redis/sentinel';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { egressProxyFromEnv, vaultHttp, type EgressProxy } from '@broker/tools';

/** Everything the worker process reads from its environment, read once, here. */
export interface WorkerSettings {
  config: BrokerConfig;
  configPath: string;
  redisUrl: string;
  /**
   * Connect to a Redis Cluster: REDIS_CLUSTER=true, or several comma-separated
   * seed URLs in REDIS_URL. @defaultValue false
   */
  redisCluster: boolean;
  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME: find the primary through Sentinel. @defaultValue none */
  redisSentinel: SentinelSettings | undefined;
  prefix: string;
  logLevel: string;
  secrets: SecretsProvider;
  /** How long a job's lock lives before another worker may take it over. @defaultValue 30000 */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died. @defaultValue 30000 */
  stalledIntervalMs: number;
  /** How long SIGTERM waits for running jobs before exiting anyway. @defaultValue 60000 */
  shutdownTimeoutMs: number;
  /**
   * Port of the worker's own `/metrics` (admin token as Bearer); 0 picks a
   * free port. @defaultValue undefined: no metrics server (WORKER_METRICS_PORT unset)
   */
  metricsPort: number | undefined;
  /** Upstream calls go through this proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY; lower case too). */
  egressProxy: EgressProxy;
}

/** A TCP port, or undefined when the variable is unset or empty. */
function optionalPort(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) throw new Error(`${name} must be a TCP port (0-65535), got "${raw}"`);
  return value;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const configPath = env.BROKER_CONFIG;
  if (!configPath) throw new Error('BROKER_CONFIG must name the config file (see broker.config.example.json)');
  const secrets = secretsSettingsFromEnv(env);
  if (secrets.problems.length > 0) throw new Error(secrets.problems.join('; '));
  const sentinel = sentinelSettingsFromEnv(env);
  if (sentinel.problems.length > 0) throw new Error(sentinel.problems.join('; '));
  const egressProxy = egressProxyFromEnv(env);
  return {
    config: loadCheckedConfigFile(configPath),
    configPath,
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisCluster: env.REDIS_CLUSTER === 'true' || (env.REDIS_URL ?? '').includes(','),
    redisSentinel: sentinel.settings,
    prefix: env.BROKER_REDIS_PREFIX ?? 'broker',
    logLevel: env.LOG_LEVEL ?? 'info',
    // Vault is reached like any upstream: through the egress proxy, unless NO_PROXY names it.
    secrets: createSecretsProvider(secrets.settings, { vaultHttp: vaultHttp({ proxy: egressProxy }) }),
    lockDurationMs: positiveInt('WORKER_LOCK_DURATION_MS', env.WORKER_LOCK_DURATION_MS, 30_000),
    stalledIntervalMs: positiveInt('WORKER_STALLED_INTERVAL_MS', env.WORKER_STALLED_INTERVAL_MS, 30_000),
    shutdownTimeoutMs: positiveInt('WORKER_SHUTDOWN_TIMEOUT_MS', env.WORKER_SHUTDOWN_TIMEOUT_MS, 60_000),
    metricsPort: optionalPort('WORKER_METRICS_PORT', env.WORKER_METRICS_PORT),
    egressProxy,
  };
}
