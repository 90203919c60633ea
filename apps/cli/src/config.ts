import { sentinelSettingsFromEnv } from '@broker/redis/sentinel';
/**
 * Everything the CLI takes from its environment. The only file that reads
 * `process.env`; commands receive {@link CliSettings}.
 */
export interface CliSettings {
  /** @defaultValue "redis://127.0.0.1:6379" */
  redisUrl: string;
  /**
   * Connect to a Redis Cluster: REDIS_CLUSTER=true, or several comma-separated
   * seed URLs in REDIS_URL. @defaultValue false
   */
  redisCluster: boolean;
  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME: find the primary through Sentinel (a bad value is reported when Redis is used). */
  redisSentinel: ReturnType<typeof sentinelSettingsFromEnv>;
  /** Must match the api's and workers' prefix. @defaultValue "broker" */
  redisPrefix: string;
  /** The config file (`jobs retry-failed` checks the integration against it when set). */
  configPath: string | undefined;
  /** The running API, for `events …`. @defaultValue "http://127.0.0.1:8080" */
  brokerUrl: string;
  /** The admin token, sent as a bearer token to the API. */
  adminToken: string | undefined;
  /** An agent key, for the agent's own operations (`jobs retry`); the same variable the OpenClaw skill reads. */
  agentKey: string | undefined;
}

export function loadCliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisCluster: env.REDIS_CLUSTER === 'true' || (env.REDIS_URL ?? '').includes(','),
    redisSentinel: sentinelSettingsFromEnv(env),
    redisPrefix: env.BROKER_REDIS_PREFIX || 'broker',
    configPath: env.BROKER_CONFIG || undefined,
    brokerUrl: (env.BROKER_URL || 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    adminToken: env.BROKER_ADMIN_TOKEN || undefined,
    agentKey: env.BROKER_AGENT_KEY || undefined,
  };
}
