/**
 * Redis Sentinel (docs/operations.md#redis-failover-sentinel-and-replicated-durability): `REDIS_SENTINELS` (`host:port,…`) and
 * `REDIS_SENTINEL_NAME` (default `mymaster`) connect through the sentinels
 * instead of `REDIS_URL`'s host, so a promoted replica is followed without a
 * restart. `REDIS_URL` still gives the credentials and TLS of the data nodes;
 * `REDIS_SENTINEL_PASSWORD` is the sentinels' own password, when they have one.
 */
export interface SentinelSettings {
  sentinels: { host: string; port: number }[];
  /** The master group the sentinels monitor. */
  name: string;
  password?: string;
}

/** @defaultValue "mymaster", as in redis' own sentinel.conf */
export const DEFAULT_SENTINEL_NAME = 'mymaster';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Reads the sentinel variables; undefined settings when `REDIS_SENTINELS` is unset. */
export function sentinelSettingsFromEnv(env: NodeJS.ProcessEnv): { settings: SentinelSettings | undefined; problems: string[] } {
  const raw = env.REDIS_SENTINELS?.trim();
  if (!raw) return { settings: undefined, problems: [] };
  const problems: string[] = [];
  const sentinels = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .flatMap((entry) => {
      const match = HOST_PORT.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) {
        problems.push(`REDIS_SENTINELS: "${entry}" is not host:port`);
        return [];
      }
      return [{ host: match[1]!.replace(/^\[|\]$/g, ''), port }];
    });
  const name = env.REDIS_SENTINEL_NAME?.trim() || DEFAULT_SENTINEL_NAME;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) problems.push(`REDIS_SENTINEL_NAME: "${name}" is not a master name (letters, digits, _ . -)`);
  if (env.REDIS_CLUSTER === 'true') problems.push('REDIS_SENTINELS and REDIS_CLUSTER=true exclude each other: a Redis Cluster fails over by itself');
  const password = env.REDIS_SENTINEL_PASSWORD || undefined;
  return { settings: { sentinels, name, ...(password ? { password } : {}) }, problems };
}
