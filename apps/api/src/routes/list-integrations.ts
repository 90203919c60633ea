import type { RequestHandler } from 'express';
import { connectionNames, connectionState, type OAuthConnectionState } from '@broker/tools/secrets/connection-state';
import { DeprecationStore } from '@broker/redis/integrations/deprecation-store';
import { readCircuitStates } from '@broker/redis/limits/circuit-state';
import type { IntegrationStatus, ListIntegrationsResponse } from '@broker/shared/integrations/integration-status';
import type { RedisKeys } from '@broker/redis/keys';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';

export interface ListIntegrationsOptions {
  keys: RedisKeys;
  secrets: SecretsProvider;
  /** Where oauth2 connections' tokens live; without it they read `missing`. */
  oauth2?: OAuthConnectionState;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * `GET /v1/integrations` (operators): each integration's tools, API version,
 * auth type, rate limit, circuit breaker state, queue counts and connections
 * (docs/integrations.md#integrations-get-v1integrations). It shows whether a credential is set, never the credential.
 * Everything is read at request time, so what it says is what workers meet.
 */
export function listIntegrations(ctx: ApiContext, options: ListIntegrationsOptions): RequestHandler {
  const connectionsOf = (name: string): Promise<IntegrationStatus['connections']> => {
    const config = ctx.config.integrations[name]!;
    const { secrets, oauth2 } = options;
    return Promise.all(
      connectionNames(config).map(async (connection) => ({
        name: connection,
        state: await connectionState({ integration: name, config, connection, secrets, ...(oauth2 ? { oauth2 } : {}) }),
      })),
    );
  };
  const deprecationStore = new DeprecationStore(ctx.redis, options.keys);
  return async (_req, res) => {
    const names = Object.keys(ctx.config.integrations);
    const [circuits, counts, connections, deprecations] = await withRedisDeadline(
      Promise.all([
        readCircuitStates(ctx.redis, options.keys, names),
        Promise.all(names.map((name) => ctx.queues.get(name)!.getJobCounts(...QUEUE_STATES))),
        Promise.all(names.map(connectionsOf)),
        deprecationStore.read(names),
      ]),
    );
    const tools = ctx.catalogue.list();
    const integrations = names.map((name, i): IntegrationStatus => {
      const config = ctx.config.integrations[name]!;
      const own = tools.filter((tool) => tool.integration === name);
      const queue = counts[i]!;
      return {
        name,
        tools: own.map((tool) => tool.name),
        // Built-in tools may pin a version in code when the file sets none.
        apiVersion: config.apiVersion?.value ?? own.find((tool) => tool.apiVersion)?.apiVersion ?? null,
        auth: { type: config.auth.type },
        rateLimit: config.rateLimit ?? null,
        circuitBreaker: { state: circuits.get(name)!.state },
        queue: { waiting: queue.waiting ?? 0, active: queue.active ?? 0, delayed: queue.delayed ?? 0, failed: queue.failed ?? 0 },
        connections: connections[i]!,
        // Written by the workers from upstream Deprecation / Sunset headers and providers' notices.
        deprecations: deprecations.get(name) ?? [],
      };
    });
    const body: ListIntegrationsResponse = { integrations };
    res.json(body);
  };
}
