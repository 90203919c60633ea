import { Redis, type RedisOptions } from 'ioredis';

/**
 * Connections differ by role (BullMQ "going to production"):
 * - `producer` (API): fail fast. No offline queue and a command timeout, so a
 *   request answers 503 within 2 s instead of hanging while Redis is away.
 * - `worker`: wait forever. BullMQ's blocking commands need
 *   `maxRetriesPerRequest: null`, and a worker should ride out a Redis restart.
 * - `subscriber`: pub/sub only; reconnects forever like a worker.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

/** @defaultValue 1500 ms: leaves room to answer 503 inside the 2 s budget. */
export const PRODUCER_COMMAND_TIMEOUT_MS = 1500;

export function redisOptions(role: RedisRole, name?: string): RedisOptions {
  const base: RedisOptions = {
    connectionName: name,
    // Back off reconnects up to 2 s; never give up (a broker without Redis is useless).
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
  if (role === 'producer') {
    return {
      ...base,
      enableOfflineQueue: false,
      // Commands issued in the same tick by concurrent requests go out in one
      // write: fewer syscalls per request under load, same order per request.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS,
      connectTimeout: PRODUCER_COMMAND_TIMEOUT_MS,
    };
  }
  return { ...base, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

export function createRedis(url: string, role: RedisRole, name?: string): Redis {
  return new Redis(url, redisOptions(role, name));
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export function waitForReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
