import { createRedis } from '@broker/redis/connection';
import type { RedisClient } from '@broker/redis/connection';
import type { CliSettings } from './config';
import { CommandError } from './errors';

/** @defaultValue 3000: a command against a Redis that does not answer fails instead of hanging. */
const CONNECT_WAIT_MS = 3000;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** Ready, or the first connection error: an operator's command should fail at once, not retry for a while. */
function connected(redis: RedisClient, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      reject(new CommandError(`cannot reach Redis at ${redactUrl(url)} (set REDIS_URL): ${reason}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${CONNECT_WAIT_MS} ms`), CONNECT_WAIT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    redis.once('error', (err: Error) => fail(err.message));
  });
}

/** Runs `work` with a fail-fast connection, always closed afterwards. */
export async function withRedis<T>(settings: CliSettings, work: (redis: RedisClient) => Promise<T>): Promise<T> {
  if (settings.redisSentinel.problems.length > 0) throw new CommandError(settings.redisSentinel.problems.join('; '));
  const redis = createRedis(settings.redisUrl, 'producer', 'broker-cli', { cluster: settings.redisCluster, sentinel: settings.redisSentinel.settings });
  redis.on('error', () => undefined);
  try {
    await connected(redis, settings.redisUrl);
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}
