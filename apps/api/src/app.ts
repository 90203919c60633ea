import express from 'express';
import type { RedisClient } from '@broker/redis/connection';
import { AuditTrail } from '@broker/redis/audit/audit-trail';
import { createMetrics, type Metrics } from '@broker/shared/metrics';
import { EventStore } from '@broker/redis/webhooks/event-store';
import { JobStore } from '@broker/redis/jobs/job-store';
import { oauthConnectionState } from '@broker/tools/oauth/oauth-connection-state';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { createCatalogue } from '@broker/tools/descriptors';
import type { EgressProxy } from '@broker/tools/http';
import { agentAuth, agentResolver } from './auth/agent-auth';
import { BULL_BOARD_PATH, bullBoard } from './admin/bull-board';
import { adminAuth, adminTokenChecker, operatorAuth } from './auth/operator-auth';
import type { IssuerKeysOptions } from './auth/issuer-keys';
import { mcpAuth } from './auth/mcp-auth';
import { createMcpOAuth } from './auth/mcp-oauth';
import { PROTECTED_RESOURCE_PATH } from './auth/mcp-resource';
import type { ApiContext } from './context';
import { accessLog } from './http/access-log';
import { errorHandler } from './http/error-handler';
import { jsonBody, optionalJsonBody } from './http/json-body';
import { methodNotAllowed, notFound } from './http/not-found';
import { requestId } from './http/request-id';
import { securityHeaders } from './http/security-headers';
import { ApprovalHolds } from './jobs/approval-holds';
import { createCallbackQueue } from './jobs/callbacks';
import { JobEventHub } from './jobs/job-events';
import { mcpOriginCheck } from './mcp/mcp-origin';
import { mcpEndpoint } from './mcp/mcp-route';
import { createToolQueues } from './jobs/queues';
import { agentRateLimit } from './limits/agent-rate-limit';
import { DailyJobCaps } from './limits/daily-job-caps';
import { SpendCaps } from './limits/spend-caps';
import { httpMetrics } from './metrics/http-metrics';
import { metricsAuth } from './metrics/metrics-auth';
import { metricsRoute } from './metrics/metrics-route';
import { queueDepthSource } from './metrics/queue-depths';
import { createOAuthContext } from './oauth/oauth-context';
import { withRedisDeadline } from './redis/deadline';
import { assertDurabilitySupported } from './redis/replicated';
import { approveJob } from './routes/approve-job';
import { cancelJob } from './routes/cancel-job';
import { denyJob } from './routes/deny-job';
import { listApprovals } from './routes/list-approvals';
import { docsPage } from './routes/docs';
import { getEvent } from './routes/get-event';
import { getJob } from './routes/get-job';
import { healthz } from './routes/healthz';
import { listAudit } from './routes/list-audit';
import { listIntegrations } from './routes/list-integrations';
import { listEvents } from './routes/list-events';
import { listTools } from './routes/list-tools';
import { openapiJson } from './routes/openapi';
import { oauthCallback } from './routes/oauth-callback';
import { oauthConnect } from './routes/oauth-connect';
import { protectedResourceMetadata, protectedResourceMetadataCors } from './routes/protected-resource-metadata';
import { putConnectionToken } from './routes/put-connection-token';
import { readyz } from './routes/readyz';
import { receiveWebhook } from './routes/receive-webhook';
import { replayEvent } from './routes/replay-event';
import { retryJob } from './routes/retry-job';
import { submitJob } from './routes/submit-job';
import { createTriggerQueue } from './webhooks/trigger-queue';

export interface ApiDeps {
  config: BrokerConfig;
  /** Producer role (createRedis(url, 'producer')): commands fail fast while Redis is away. */
  redis: RedisClient;
  /** Subscriber role: carries the one job-events subscription of this process. */
  subscriber: RedisClient;
  secrets: SecretsProvider;
  logger: Logger;
  /** Prefix of our keys and of BullMQ's; must match the workers'. */
  prefix: string;
  /** @defaultValue a fresh registry for this api */
  metrics?: Metrics;
  /** Public base URL (BROKER_PUBLIC_URL) for OAuth redirect URIs. @defaultValue the URL a connect request came in on */
  publicUrl?: string;
  /** The OAuth code exchange calls providers' token endpoints through it. @defaultValue undefined: direct */
  egressProxy?: EgressProxy;
  /** How `/mcp` caches and fetches the authorization server's keys (`mcp.authorizationServer`). @defaultValue ISSUER_KEYS_DEFAULTS */
  issuerKeys?: Partial<IssuerKeysOptions>;
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
  assertDurabilitySupported(config, redis);
  const keys = redisKeys(prefix);
  const events = new JobEventHub(subscriber, keys.jobEvents, logger);
  const metrics = deps.metrics ?? createMetrics();
  const ctx: ApiContext = {
    config,
    catalogue: createCatalogue(config),
    queues: createToolQueues(config, redis, prefix, logger),
    callbacks: createCallbackQueue(redis, prefix, logger),
    store: new JobStore(redis, keys, { retentionSeconds: config.retention.jobSeconds }),
    events,
    redis,
    logger,
    metrics,
    eventStore: new EventStore(redis, keys),
    triggers: createTriggerQueue(redis, prefix, logger),
    dailyJobCaps: new DailyJobCaps(config, redis, keys, logger),
    approvals: new ApprovalHolds(config, redis, keys, logger),
    spendCaps: new SpendCaps(config, redis, keys, logger),
    audit: new AuditTrail(redis, keys, { retentionDays: config.retention.auditDays, logger, metrics }),
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
  app.use(httpMetrics(ctx.metrics));
  app.use(securityHeaders());

  app.get('/healthz', healthz());
  app.get('/readyz', readyz(ctx));

  const resolveAgent = agentResolver(config.agents, secrets, logger);
  const isAdmin = adminTokenChecker(config, secrets);
  // Per-agent request limits run right after authentication: keyed by agent, shared through Redis.
  const limitAgents = agentRateLimit({ config, redis, keys, logger });
  const auth = [agentAuth(resolveAgent), limitAgents];
  const oauth = createOAuthContext({ config, redis, keys, secrets, logger, publicUrl: deps.publicUrl, egressProxy: deps.egressProxy });
  // The hot paths first: Express tries routes in order, on every request.
  app
    .route('/v1/jobs')
    .post(auth, ...jsonBody(), submitJob(ctx))
    .all(methodNotAllowed(['POST']));
  app
    .route('/v1/jobs/:id')
    .get(auth, getJob(ctx))
    .delete(auth, cancelJob(ctx))
    .all(methodNotAllowed(['GET', 'DELETE']));
  app
    .route('/v1/jobs/:id/retry')
    .post(auth, retryJob(ctx))
    .all(methodNotAllowed(['POST']));
  // Approval holds: the admin token, or an agent key with `jobs:approve` (never on its own jobs).
  const approvers = [operatorAuth(isAdmin, resolveAgent, 'jobs:approve'), limitAgents];
  app
    .route('/v1/jobs/:id/approve')
    .post(approvers, ...optionalJsonBody(), approveJob(ctx))
    .all(methodNotAllowed(['POST']));
  app
    .route('/v1/jobs/:id/deny')
    .post(approvers, ...optionalJsonBody(), denyJob(ctx))
    .all(methodNotAllowed(['POST']));
  app
    .route('/v1/approvals')
    .get(approvers, listApprovals(ctx))
    .all(methodNotAllowed(['GET']));
  // Webhooks: the raw body is read inside the route, with the source's limit, never parsed before it is verified.
  app
    .route('/hooks/:source')
    .post(receiveWebhook(ctx, secrets, { keys }))
    .all(methodNotAllowed(['POST']));
  const allQueues = [...ctx.queues.values(), ctx.triggers, ctx.callbacks];
  ctx.metrics.readQueueDepthsFrom(queueDepthSource(() => allQueues));
  app
    .route('/metrics')
    .get(metricsAuth(isAdmin, resolveAgent), metricsRoute(ctx.metrics))
    .all(methodNotAllowed(['GET']));
  // Without an admin token nobody could sign in, so the board is not mounted at all (404).
  if (config.admin) {
    const board = bullBoard({ toolQueues: ctx.queues.values(), triggersQueue: ctx.triggers, callbacksQueue: ctx.callbacks, isAdmin });
    app.use(BULL_BOARD_PATH, ...board.handlers);
  }
  app
    .route('/v1/tools')
    .get(auth, listTools(ctx))
    .all(methodNotAllowed(['GET']));
  app
    .route('/v1/integrations')
    .get(
      operatorAuth(isAdmin, resolveAgent, 'integrations:read'),
      limitAgents,
      listIntegrations(ctx, { keys, secrets, oauth2: oauthConnectionState(config, { secrets, tokens: oauth.tokens }) }),
    )
    .all(methodNotAllowed(['GET']));
  app
    .route('/v1/integrations/:name/connections/:connection/token')
    .put(adminAuth(isAdmin), ...jsonBody(), putConnectionToken(oauth))
    .all(methodNotAllowed(['PUT']));
  app
    .route('/oauth/:integration/connect')
    .get(adminAuth(isAdmin), oauthConnect(oauth))
    .all(methodNotAllowed(['GET']));
  // No broker credential: the provider sends the user's browser here; the single-use state is the proof.
  app
    .route('/oauth/:integration/callback')
    .get(oauthCallback(oauth))
    .all(methodNotAllowed(['GET']));
  // `/mcp` also takes OAuth access tokens with mcp.authorizationServer (RFC 9728 metadata below; 404 without it).
  const mcpOAuth = createMcpOAuth({ config, logger, publicUrl: deps.publicUrl, egressProxy: deps.egressProxy, keys: deps.issuerKeys });
  for (const path of [PROTECTED_RESOURCE_PATH, `${PROTECTED_RESOURCE_PATH}/mcp`]) {
    app
      .route(path)
      .all(protectedResourceMetadataCors())
      .get(protectedResourceMetadata(mcpOAuth))
      .all(methodNotAllowed(['GET']));
  }
  // Origin first (DNS rebinding), before authentication or any MCP processing, on every method.
  app
    .route('/mcp')
    .all(mcpOriginCheck({ allowedOrigins: config.mcp?.allowedOrigins, publicUrl: deps.publicUrl }))
    .post(mcpAuth(resolveAgent, mcpOAuth, logger), limitAgents, ...jsonBody(), mcpEndpoint(ctx, { keys }))
    .all(methodNotAllowed(['POST']));
  app
    .route('/openapi.json')
    .get(openapiJson())
    .all(methodNotAllowed(['GET']));
  app
    .route('/docs')
    .get(docsPage())
    .all(methodNotAllowed(['GET']));

  app
    .route('/v1/events')
    .get(operatorAuth(isAdmin, resolveAgent, 'events:read'), limitAgents, listEvents(ctx))
    .all(methodNotAllowed(['GET']));
  app
    .route('/v1/events/:id')
    .get(operatorAuth(isAdmin, resolveAgent, 'events:read'), limitAgents, getEvent(ctx))
    .all(methodNotAllowed(['GET']));
  app
    .route('/v1/audit')
    .get(operatorAuth(isAdmin, resolveAgent, 'audit:read'), limitAgents, listAudit(ctx))
    .all(methodNotAllowed(['GET']));
  app
    .route('/v1/events/:id/replay')
    .post(operatorAuth(isAdmin, resolveAgent, 'events:replay'), limitAgents, replayEvent(ctx))
    .all(methodNotAllowed(['POST']));

  app.use(notFound());
  app.use(errorHandler(logger));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await events.close();
      await Promise.all([...ctx.queues.values()].map((q) => q.close()));
      await ctx.triggers.close();
      await ctx.callbacks.close();
      await ctx.approvals.close();
    })());

  return { app, close, waiting: () => events.waiting, metrics: ctx.metrics };
}
