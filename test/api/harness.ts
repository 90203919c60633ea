import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { createLogger } from '@broker/shared/logger';
import { createRedis, type RedisClient } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { JobStore } from '@broker/redis/jobs/job-store';
import { redisKeys } from '@broker/redis/keys';
import { TERMINAL_STATUSES, type PublicJob } from '@broker/shared/jobs/schema';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { createApi, type Api, type ApiDeps } from '@broker/api';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { apiTestConfig, parseLayeredConfig } from '../helpers/config';
import { waitFor } from '../helpers/wait-for';

export const KEYS = { a: 'key-agent-a', bOld: 'key-agent-b-old', bNew: 'key-agent-b-new', c: 'key-agent-c' };

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** {@link apiTestConfig}: demo.getContact / demo.createOrder, plus a tool in another integration, with `overrides` laid over it. */
export function testConfig(overrides: Record<string, unknown> = {}): BrokerConfig {
  return parseLayeredConfig(apiTestConfig, overrides);
}

export interface Harness {
  api: Api;
  server: Server;
  prefix: string;
  /** Mutable: the secrets provider reads it at each request, like a rotated env. */
  env: Record<string, string | undefined>;
  /** The api's producer connection. */
  producer: RedisClient;
  /** A plain connection for assertions, independent of the api's. */
  redis: Redis;
  store: JobStore;
  queue: Queue;
  /** Jobs of the demo queue in any state. */
  queuedCount(): Promise<number>;
  /** Job records under the prefix. */
  jobKeyCount(): Promise<number>;
  /** Long-polls `GET /v1/jobs/:id` with `auth` until the job is terminal, and returns it. */
  finished(auth: Record<string, string>, id: string): Promise<PublicJob>;
  close(): Promise<void>;
}

export async function startApi(label: string, options: { producerUrl?: string; subscriberUrl?: string; config?: BrokerConfig } = {}): Promise<Harness> {
  const prefix = uniquePrefix(label);
  const config = options.config ?? testConfig();
  const env: Record<string, string | undefined> = {
    AGENT_A_KEY: KEYS.a,
    AGENT_B_KEY: `${KEYS.bOld},${KEYS.bNew}`,
    AGENT_C_KEY: KEYS.c,
  };
  const producer = createRedis(options.producerUrl ?? REDIS_URL, 'producer');
  const subscriber = createRedis(options.subscriberUrl ?? REDIS_URL, 'subscriber');
  // The tests assert on answers; connection noise from deliberately dead Redis URLs is expected.
  producer.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const api = await createApi({
    config,
    redis: producer,
    subscriber,
    secrets: envSecretsProvider(env),
    logger: createLogger({ name: 'api-test', level: 'silent' }),
    prefix,
  });
  const server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  if (!options.producerUrl) await untilReady(server, () => api.close(), producer, subscriber);

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const store = new JobStore(redis, redisKeys(prefix), { retentionSeconds: config.retention.jobSeconds });
  const queue = new Queue(integrationQueueName('demo'), { connection: redis, prefix: bullPrefix(prefix, integrationQueueName('demo')) });

  return {
    api,
    server,
    prefix,
    producer,
    env,
    redis,
    store,
    queue,
    async queuedCount() {
      const counts = await queue.getJobCounts();
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async jobKeyCount() {
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:job:*`, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      return n;
    },
    finished(auth, id) {
      return waitFor(
        async () => {
          const job = (await request(server).get(`/v1/jobs/${id}?waitMs=5000`).set(auth).expect(200)).body as PublicJob;
          return TERMINAL_STATUSES.has(job.status) ? job : undefined;
        },
        { what: `job ${id} to finish` },
      );
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      await queue.close();
      producer.disconnect();
      subscriber.disconnect();
      redis.disconnect();
      await dropPrefix(prefix);
    },
  };
}

export const portOf = (server: Server) => (server.address() as AddressInfo).port;

/**
 * A second API process-alike on the harness' Redis prefix (its own Redis
 * connections, its own Express app and port), as after a deploy with a new
 * config, or to show that what the API holds in Redis is shared by every API.
 */
export interface ListeningApi {
  api: Api;
  /** The api's producer connection. */
  producer: RedisClient;
  server: Server;
  base: string;
  close(): Promise<void>;
}

/**
 * An API on its own Redis connections, listening on a free loopback port:
 * `deps` as createApi takes them, without the connections, which go to
 * `urls` (the test Redis by default; a proxy or a private server otherwise).
 */
export async function listenApi(deps: Omit<ApiDeps, 'redis' | 'subscriber'>, urls: { producerUrl?: string; subscriberUrl?: string } = {}): Promise<ListeningApi> {
  const producer = createRedis(urls.producerUrl ?? REDIS_URL, 'producer');
  const subscriber = createRedis(urls.subscriberUrl ?? REDIS_URL, 'subscriber');
  // Connection noise from Redis servers a test cuts or stops is expected.
  producer.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const api = await createApi({ ...deps, redis: producer, subscriber });
  const server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  await untilReady(server, () => api.close(), producer, subscriber);
  return {
    api,
    producer,
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      producer.disconnect();
      subscriber.disconnect();
    },
  };
}

export async function secondApi(h: Harness, config: BrokerConfig): Promise<ListeningApi> {
  return listenApi({ config, secrets: envSecretsProvider(h.env), logger: createLogger({ name: 'api-2', level: 'silent' }), prefix: h.prefix });
}

/**
 * Like a load balancer, send nothing before `/readyz` says so: on a loaded
 * machine the queues' first connection check could otherwise eat into the
 * first request's 2 s Redis budget and turn it into a 503.
 */
async function untilReady(server: Server, closeApi: () => Promise<void>, ...connections: RedisClient[]): Promise<void> {
  try {
    await waitFor(async () => ((await request(server).get('/readyz')).status === 200 ? true : undefined), { what: 'the api to answer /readyz' });
  } catch (err) {
    // A harness that never started must not keep the test file's process alive.
    server.close();
    await closeApi();
    for (const connection of connections) connection.disconnect();
    throw err;
  }
}
