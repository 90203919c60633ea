import express from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { createMetrics, JobStore, redisKeys, type BrokerConfig, type Logger, type Metrics, type SecretsProvider } from '@broker/shared';
import { createCatalogue } from '@broker/tools/catalogue';
import { agentAuth, agentResolver } from './auth/agent-auth';
import { adminTokenChecker } from './auth/operator-auth';
import type { ApiContext } from './context';
import { accessLog } from './http/access-log';
import { errorHandler } from './http/error-handler';
import { jsonBody } from './http/json-body';
import { methodNotAllowed, notFound } from './http/not-found';
import { requestId } from './http/request-id';
import { JobEventHub } from './jobs/job-events';
import { createToolQueues } from './jobs/queues';
import { withRedisDeadline } from './redis/deadline';
import { cancelJob } from './routes/cancel-job';
import { getJob } from './routes/get-job';
import { healthz } from './routes/healthz';
import { listTools } from './routes/list-tools';
import { readyz } from './routes/readyz';
import { submitJob } from './routes/submit-job';

export interface ApiDeps {
  config: BrokerConfig;
  /** Producer role (createRedis(url, 'producer')): commands fail fast while Redis is away. */
  redis: Redis;
  /** Subscriber role: carries the one job-events subscription of this process. */
  subscriber: Redis;
  secrets: SecretsProvider;
  logger: Logger;
  /** Prefix of our keys and of BullMQ's; must match the workers'. */
  prefix: string;
  /** @defaultValue a fresh registry for this api */
  metrics?: Metrics;
}

export interface Api {
  app: express.Express;
  /** Long-polls held right now (a gauge for metrics; tests use it to see waits start and end). */
  waiting(): number;
  metrics: Metrics;
  /** Wakes long-polls, drops the subscription and closes the queues; the Redis connections stay the caller's. */
  close(): Promise<void>;
}

/**
 * How long start-up waits for the job-events subscription. Without Redis the
 * API still starts (and answers 503), and the subscription completes when
 * Redis comes back.
 * @defaultValue 1000
 */
const SUBSCRIBE_WAIT_MS = 1000;

/** Builds the agent API. Nothing here calls an external API: jobs go to the workers through Redis. */
export async function createApi(deps: ApiDeps): Promise<Api> {
  const { config, redis, subscriber, secrets, logger, prefix } = deps;
  const keys = redisKeys(prefix);
  const events = new JobEventHub(subscriber, keys.jobEvents, logger);
  const ctx: ApiContext = {
    config,
    catalogue: createCatalogue(config),
    queues: createToolQueues(config, redis, prefix, logger),
    store: new JobStore(redis, keys, { retentionSeconds: config.retention.jobSeconds }),
    events,
    redis,
    logger,
    metrics: deps.metrics ?? createMetrics(),
  };

  await withRedisDeadline(events.start(), SUBSCRIBE_WAIT_MS).catch((err: unknown) => {
    logger.warn({ err: (err as Error).message }, 'job events not subscribed yet; long-polls wait out their time until they are');
  });

  const app = express();
  app.disable('x-powered-by');
  // Job state changes under a client's feet; a 304 from a stale ETag would only confuse pollers.
  app.set('etag', false);

  app.use(requestId());
  app.use(accessLog(logger));
  app.use(helmet());

  app.get('/healthz', healthz());
  app.get('/readyz', readyz(ctx));

  const resolveAgent = agentResolver(config.agents, secrets, logger);
  const isAdmin = adminTokenChecker(config, secrets);
  const auth = agentAuth(resolveAgent);
  app.route('/v1/tools').get(auth, listTools(ctx)).all(methodNotAllowed(['GET']));
  app.route('/v1/jobs').post(auth, ...jsonBody(), submitJob(ctx)).all(methodNotAllowed(['POST']));
  app.route('/v1/jobs/:id').get(auth, getJob(ctx)).delete(auth, cancelJob(ctx)).all(methodNotAllowed(['GET', 'DELETE']));

  app.use(notFound());
  app.use(errorHandler(logger));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await events.close();
      await Promise.all([...ctx.queues.values()].map((q) => q.close()));
    })());

  return { app, close, waiting: () => events.waiting, metrics: ctx.metrics };
}
