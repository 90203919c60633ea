import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { SecretsProvider } from '../secrets/provider';
import { staticCredentials, type CredentialsProvider } from './credentials';
import { IntegrationClient } from './integration-client';
import { MtlsAgent } from './mtls-agent';
import { upstreamProxy, type EgressProxy } from './upstream-agents';

/**
 * One client per configured integration, each with its own keep-alive pool.
 * `credentialsFor` lets a caller supply other credentials (e.g. OAuth);
 * `egressProxy` sends the calls through a proxy (see EgressProxy).
 */
export function createIntegrationClients(
  config: BrokerConfig,
  secrets: SecretsProvider,
  logger: Logger,
  credentialsFor: (name: string) => CredentialsProvider = (name) => staticCredentials(name, config.integrations[name]!, secrets),
  egressProxy?: EgressProxy,
): Map<string, IntegrationClient> {
  const clients = new Map<string, IntegrationClient>();
  for (const [name, integration] of Object.entries(config.integrations)) {
    const proxy = upstreamProxy(integration.baseUrl, egressProxy);
    const tls = integration.mtls && new MtlsAgent(name, integration.mtls, secrets, integration.timeoutMs + 1000, proxy);
    clients.set(name, new IntegrationClient(name, integration, credentialsFor(name), logger, tls, egressProxy));
  }
  return clients;
}
