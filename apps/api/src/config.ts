import { ConfigError } from '@broker/shared/config/load';
import { loadCheckedConfigFile } from '@broker/tools/descriptors';
import { secretsSettingsFromEnv } from '@broker/tools/secrets/settings';
import { sentinelSettingsFromEnv, type SentinelSettings } from '@broker/redis/sentinel';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { SecretsSettings } from '@broker/tools/secrets/provider';
import { egressProxyFromEnv, type EgressProxy } from '@broker/tools/http';

/**
 * Everything the API process takes from its environment (docs/configuration.md#environment). This is
 * the only file that reads `process.env`; the rest of the app receives
 * {@link ApiSettings} as a plain object, so tests build it inline.
 */
export interface ApiSettings {
  config: BrokerConfig;
  /** @defaultValue "redis://127.0.0.1:6379" */
  redisUrl: string;
  /**
   * Connect to a Redis Cluster: REDIS_CLUSTER=true, or several comma-separated
   * seed URLs in REDIS_URL. @defaultValue false
   */
  redisCluster: boolean;
  /** REDIS_SENTINELS / REDIS_SENTINEL_NAME: find the primary through Sentinel. @defaultValue none */
  redisSentinel: SentinelSettings | undefined;
  /** @defaultValue 8080 */
  port: number;
  /**
   * The address the API listens on (HOST); `pnpm start` sets 127.0.0.1.
   * @defaultValue "0.0.0.0"
   */
  host: string;
  /** @defaultValue "info" */
  logLevel: string;
  secrets: SecretsSettings;
  /**
   * Namespaces our keys and BullMQ's (`prefix` of every Queue), so several
   * brokers or test runs can share one Redis.
   * @defaultValue "broker"
   */
  redisPrefix: string;
  /**
   * The API's public base URL (BROKER_PUBLIC_URL); OAuth redirect URIs are
   * `<publicUrl>/oauth/<integration>/callback`.
   * @defaultValue undefined: the URL a connect request came in on
   */
  publicUrl: string | undefined;
  /**
   * The egress proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY; lower case
   * too) for the API's own outbound calls: Vault reads and the OAuth code
   * exchange with a provider's token endpoint.
   */
  egressProxy: EgressProxy;
}

/** Thrown for an unusable environment or config file; `problems` lists every one, so one pass fixes them all. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly problems: string[]) {
    super(`Cannot start the API:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function readConfig(path: string, problems: string[]): BrokerConfig | undefined {
  try {
    return loadCheckedConfigFile(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map((p) => `${err.file}: ${p}`));
    return undefined;
  }
}

/** Reads and validates the environment and the config file it names; throws {@link SettingsError}. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const problems: string[] = [];

  const configPath = env.BROKER_CONFIG;
  if (!configPath) problems.push('BROKER_CONFIG: required (path of the config file)');

  const portText = env.PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) problems.push(`PORT: "${portText}" is not a TCP port`);

  const host = env.HOST || '0.0.0.0';
  if (/\s/.test(host)) problems.push(`HOST: "${host}" is not a listening address`);

  const { settings: secrets, problems: secretProblems } = secretsSettingsFromEnv(env);
  problems.push(...secretProblems);
  const { settings: redisSentinel, problems: sentinelProblems } = sentinelSettingsFromEnv(env);
  problems.push(...sentinelProblems);

  const redisPrefix = env.BROKER_REDIS_PREFIX ?? 'broker';
  // BullMQ and our key builders join with ':'; an empty prefix would write keys at the root.
  if (!/^[A-Za-z0-9_.-]+$/.test(redisPrefix)) problems.push('BROKER_REDIS_PREFIX: letters, digits, _ . - only');

  const publicUrl = env.BROKER_PUBLIC_URL || undefined;
  if (publicUrl && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(publicUrl)) problems.push(`BROKER_PUBLIC_URL: "${publicUrl}" is not an http(s) base URL`);

  const config = configPath ? readConfig(configPath, problems) : undefined;
  if (problems.length > 0 || !config) throw new SettingsError(problems);

  return {
    config,
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisCluster: env.REDIS_CLUSTER === 'true' || (env.REDIS_URL ?? '').includes(','),
    redisSentinel,
    port,
    host,
    logLevel: env.LOG_LEVEL ?? 'info',
    secrets,
    redisPrefix,
    publicUrl,
    egressProxy: egressProxyFromEnv(env),
  };
}
