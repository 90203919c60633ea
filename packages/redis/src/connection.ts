import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { coalesceWrites } from './coalesce-writes';
import type { SentinelSettings } from './sentinel';

/**
 * A single Redis or a Redis Cluster: every store, script and queue of the
 * broker takes either (each multi-key command touches one hash slot, see
 * keys.ts), so the deployment picks the topology with REDIS_URL alone.
 */
export type RedisClient = Redis | Cluster;

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
      maxRetriesPerRequest: 1,
      commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS,
      connectTimeout: PRODUCER_COMMAND_TIMEOUT_MS,
    };
  }
  return { ...base, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

/** The seed URLs of `REDIS_URL`: one URL, or several separated by commas (cluster seeds). */
export function redisSeeds(url: string): string[] {
  return url
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
}

export interface CreateRedisOptions {
  /**
   * Connect as a Redis Cluster client even with one seed URL.
   * @defaultValue false: cluster mode only when `url` lists several seeds
   */
  cluster?: boolean;
  /** Find the primary through these sentinels (`url` then only gives credentials and TLS). */
  sentinel?: SentinelSettings | undefined;
}

/** The credentials and TLS of a redis URL, for connections whose address comes from elsewhere. */
function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls' | 'db'> {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1));
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
  };
}

/**
 * A client that asks the sentinels for the current primary, and asks again
 * when it loses it: after a failover every connection (BullMQ's duplicates
 * included, which copy these options) reconnects to the promoted replica. A
 * demoted primary that comes back answers writes with READONLY: reconnecting
 * then finds the new one.
 */
function sentinelClient(url: string, role: RedisRole, name: string | undefined, sentinel: SentinelSettings): Redis {
  return new Redis({
    ...redisOptions(role, name),
    ...credentialsOf(url),
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    role: 'master',
    ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
    // No `failoverDetector`: in ioredis 5.9 the +switch-master subscription of
    // the connection that was lost outlives it, and when the announcement lands
    // while the client is already reconnecting it aborts that connect, which
    // leaves the client closed for good ("Connection is closed." until a
    // restart; seen in the failover chaos test). A lost primary closes its
    // connections anyway, and each reconnect asks the sentinels afresh.
    sentinelRetryStrategy: (times) => Math.min(times * 100, 2000),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  });
}

/**
 * A client of `role`. With several comma-separated seeds in `url` (or
 * `cluster: true`) it is an ioredis Cluster whose every node connection takes
 * the role's options: a producer fails fast on each node, a worker waits.
 */
export function createRedis(url: string, role: RedisRole, name?: string, options: CreateRedisOptions = {}): RedisClient {
  const seeds = redisSeeds(url);
  if (options.sentinel) return coalesceWrites(sentinelClient(seeds[0] ?? url, role, name, options.sentinel), { flush: role === 'producer' ? 'turn' : 'tick' });
  if (seeds.length <= 1 && !options.cluster) {
    const client = new Redis(seeds[0] ?? url, redisOptions(role, name));
    // An api's concurrent requests send their commands in one write per turn
    // of the event loop. A worker's leave as soon as the code that issued them
    // is done (a job's checks asked at once share a write): its chain of round
    // trips (pickup, admission, the call, the finish) is what limits and async
    // checks are timed by, and a loaded worker's turns are long.
    return coalesceWrites(client, { flush: role === 'producer' ? 'turn' : 'tick' });
  }
  // A node's reconnects are the Cluster's business (clusterRetryStrategy); the rest of the role applies per node.
  const { enableOfflineQueue, retryStrategy: _perNode, ...nodeOptions } = redisOptions(role, name);
  const first = new URL(seeds[0]!);
  if (first.password) nodeOptions.password = decodeURIComponent(first.password);
  if (first.username) nodeOptions.username = decodeURIComponent(first.username);
  if (first.protocol === 'rediss:') nodeOptions.tls = {};
  return new Cluster(
    seeds.map((seed) => {
      const u = new URL(seed);
      return { host: u.hostname, port: Number(u.port || 6379) };
    }),
    {
      redisOptions: nodeOptions,
      // The Cluster has its own offline queue and pipelining in front of the nodes'.
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      // Commands issued in the same tick by concurrent requests go out in one
      // write per node (a single Redis gets the same from coalesceWrites).
      enableAutoPipelining: role === 'producer',
      // ioredis groups auto-pipelined commands by the slot of their first
      // argument, which for EVAL/EVALSHA is the script, not a key: scripts on
      // different nodes would share a pipeline and fail ("All keys in the
      // pipeline should belong to the same slots allocation group").
      autoPipeliningIgnoredCommands: ['eval', 'evalsha', 'EVAL', 'EVALSHA'],
      clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    },
  );
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export function waitForReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
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
