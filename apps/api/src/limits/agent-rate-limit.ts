import type { RequestHandler } from 'express';
import { rateLimit, type AugmentedRequest } from 'express-rate-limit';
import type { RedisClient } from '@broker/redis/connection';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { RedisKeys } from '@broker/redis/keys';
import { redisRateStore } from './redis-rate-store';

export interface AgentRateLimitDeps {
  config: BrokerConfig;
  /** The producer connection. */
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
}

/** One agent's effective limit: its own `rateLimit`, else the top-level `apiRateLimit`, else none. */
function limitsByAgent(config: BrokerConfig): Map<string, { max: number; windowMs: number }> {
  const limits = new Map<string, { max: number; windowMs: number }>();
  for (const agent of config.agents) {
    const limit = agent.rateLimit ?? config.apiRateLimit;
    if (limit) limits.set(agent.id, limit);
  }
  return limits;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Per-agent request limits on the API (docs/guardrails.md "Request limits per agent"), mounted right
 * after authentication so that they are keyed by the agent, not by an IP a
 * proxy may hide. Counted in Redis by express-rate-limit's Redis store, so
 * every API process shares one budget per agent. A fixed window per agent:
 * at most `max` requests from the first one until `windowMs` later.
 *
 * Over the limit: 429 `RATE_LIMITED` with `Retry-After` (seconds until the
 * window ends) and the `RateLimit`/`RateLimit-Policy` headers (IETF draft 7)
 * that every answer under a limit carries. Requests with the admin token
 * (no agent) are not limited.
 *
 * While the producer connection is down, requests pass uncounted: a route
 * that needs Redis answers 503 anyway, and one that does not (the tool list)
 * keeps working. A Redis that is up but does not answer makes it a 503 within
 * 2 s, like any other Redis work.
 */
export function agentRateLimit({ config, redis, keys, logger }: AgentRateLimitDeps): RequestHandler {
  const limits = limitsByAgent(config);
  if (limits.size === 0) return (_req, _res, next) => next();

  const log = logger.child({ component: 'api-rate-limit' });
  // One limiter per window length (the store counts one window), the limit looked up per agent.
  const byWindow = new Map<number, RequestHandler>();
  for (const windowMs of new Set([...limits.values()].map((l) => l.windowMs))) {
    byWindow.set(
      windowMs,
      rateLimit({
        windowMs,
        limit: (_req, res) => limits.get(res.locals.agent?.id ?? '')?.max ?? 1,
        keyGenerator: (_req, res) => res.locals.agent?.id ?? '',
        skip: () => redis.status !== 'ready',
        standardHeaders: 'draft-7',
        legacyHeaders: false,
        store: redisRateStore(redis, keys.apiRateLimit(windowMs)),
        logger: {
          warn: (...args: unknown[]) => log.warn({ detail: args.map(String) }, 'rate limiter'),
          error: (...args: unknown[]) => log.error({ detail: args.map(String) }, 'rate limiter'),
        },
        handler: (req, res, next) => {
          const resetTime = (req as AugmentedRequest).rateLimit?.resetTime;
          const wait = resetTime ? resetTime.getTime() - Date.now() : windowMs;
          const agent = res.locals.agent?.id ?? '';
          // debug: the access log already has a line for each refused request (status 429, agent).
          log.debug({ agent, limit: limits.get(agent)?.max, windowMs }, 'agent over its API rate limit');
          next(
            new ProblemError(
              'RATE_LIMITED',
              `Agent "${agent}" may make ${limits.get(agent)?.max} requests per ${seconds(windowMs)} s; try again in ${seconds(wait)} s.`,
              undefined,
              {
                'Retry-After': String(seconds(wait)),
              },
            ),
          );
        },
      }),
    );
  }

  return (req, res, next) => {
    const agent = res.locals.agent;
    const limit = agent && limits.get(agent.id);
    const limiter = limit && byWindow.get(limit.windowMs);
    if (!limiter) return next();
    return limiter(req, res, next);
  };
}
