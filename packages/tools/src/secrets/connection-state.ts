import { namedConnection } from '@broker/shared/config/schema';
import type { AuthConfig, IntegrationConfig } from '@broker/shared/config/schema';
import { splitSecretValues, type SecretsProvider } from './provider';

/**
 * Whether a connection can authenticate a call now (docs/integrations.md#integrations-get-v1integrations):
 * - `ok`: its credentials are there (or it needs none);
 * - `missing`: nothing to send (an unset API-key secret, an OAuth connection without a token);
 * - `needs_reauth`: an OAuth token that can no longer be refreshed; an operator must seed a new one.
 */
export type ConnectionState = 'ok' | 'needs_reauth' | 'missing';

/**
 * Answers for an oauth2 connection, from wherever its tokens are stored. The
 * OAuth token store provides it; without one, an oauth2 connection has no
 * token this process can see and reads `missing`.
 */
export type OAuthConnectionState = (integration: string, connection: string) => Promise<ConnectionState>;

/** The connections of an integration: `default` (the integration's own auth) first, then the named ones. */
export function connectionNames(integration: IntegrationConfig): string[] {
  return ['default', ...Object.keys(integration.connections ?? {}).filter((name) => name !== 'default')];
}

/** The auth a connection uses: its own, else the integration's (`default` always uses the integration's). */
export function authOfConnection(integration: IntegrationConfig, connection: string): AuthConfig | undefined {
  if (connection === 'default') return integration.auth;
  const named = namedConnection(integration, connection);
  return named ? (named.auth ?? integration.auth) : undefined;
}

async function isSet(secrets: SecretsProvider, name: string): Promise<boolean> {
  return splitSecretValues(await secrets.get(name)).length > 0;
}

/** Reads a connection's state. Never reveals or logs a secret: only whether one is set. */
export async function connectionState(options: {
  integration: string;
  config: IntegrationConfig;
  connection: string;
  secrets: SecretsProvider;
  oauth2?: OAuthConnectionState;
}): Promise<ConnectionState> {
  const auth = authOfConnection(options.config, options.connection);
  if (!auth) return 'missing';
  const mtls = options.config.mtls;
  if (mtls && !((await isSet(options.secrets, mtls.cert)) && (await isSet(options.secrets, mtls.key)))) return 'missing';
  switch (auth.type) {
    case 'none':
      return 'ok';
    case 'apiKey':
      return (await isSet(options.secrets, auth.secret)) ? 'ok' : 'missing';
    case 'oauth2':
      return options.oauth2 ? options.oauth2(options.integration, options.connection) : 'missing';
  }
}
