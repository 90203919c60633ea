import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { EgressProxy } from '@broker/tools/http';
import { accessTokenVerifier, type AccessTokenVerifier } from './access-tokens';
import { IssuerKeys, type IssuerKeysOptions } from './issuer-keys';
import { mcpResource, type McpResource } from './mcp-resource';

/** `/mcp` as an OAuth 2.1 resource server: present only with `mcp.authorizationServer`. */
export interface McpOAuth {
  issuer: string;
  resource: McpResource;
  verify: AccessTokenVerifier;
  /** Every scope some agent holds: what a token could usefully carry (`scopes_supported`). */
  scopesSupported: string[];
}

/** The agent claim when `mcp.agentClaim` is left out. */
export const DEFAULT_AGENT_CLAIM = 'sub';

/** Builds {@link McpOAuth} from the config; undefined without `mcp.authorizationServer`. Fetches nothing until a token comes. */
export function createMcpOAuth(options: {
  config: BrokerConfig;
  logger: Logger;
  publicUrl?: string | undefined;
  egressProxy?: EgressProxy | undefined;
  keys?: Partial<IssuerKeysOptions> | undefined;
}): McpOAuth | undefined {
  const server = options.config.mcp?.authorizationServer;
  if (!server) return undefined;
  const logger = options.logger.child({ component: 'mcp-oauth' });
  if (!options.publicUrl && !server.audience) {
    logger.warn(
      { issuer: server.issuer },
      'mcp.authorizationServer without BROKER_PUBLIC_URL or mcp.authorizationServer.audience: access tokens are accepted only on a loopback Host',
    );
  }
  const keys = new IssuerKeys(server.issuer, logger, { ...options.keys, proxy: options.egressProxy });
  return {
    issuer: server.issuer,
    resource: mcpResource({ publicUrl: options.publicUrl, audience: server.audience }),
    verify: accessTokenVerifier({
      issuer: server.issuer,
      agentClaim: options.config.mcp?.agentClaim ?? DEFAULT_AGENT_CLAIM,
      agents: options.config.agents,
      keys,
      logger,
    }),
    scopesSupported: [...new Set(options.config.agents.flatMap((a) => a.scopes))].sort(),
  };
}
