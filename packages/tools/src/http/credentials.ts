import { splitSecretValues, type SecretsProvider } from '../secrets/provider';
import { type AuthConfig, type IntegrationConfig, namedConnection } from '@broker/shared/config/schema';
import { ToolError } from '../tool-error';
import { apiKeyHeader } from './native-auth';

/** Supplies the headers that authenticate one call; asked again with `forceRefresh` after a 401. */
export interface CredentialsProvider {
  authHeaders(connection: string, options: CredentialsOptions): Promise<Record<string, string>>;
}

export interface CredentialsOptions {
  forceRefresh: boolean;
  /** With `forceRefresh`: the headers of the refused call, so a token someone else already replaced is not refreshed again. */
  rejectedHeaders?: Record<string, string>;
}

export function connectionAuth(integration: IntegrationConfig, connection: string): AuthConfig | undefined {
  if (connection === 'default') return integration.auth;
  const named = namedConnection(integration, connection);
  if (!named) return undefined;
  return named.auth ?? integration.auth;
}

/**
 * API keys are read from the secrets provider at every call, so a rotated key
 * is used without a restart; a 401 simply reads it again. When the value holds
 * several keys (rotation), the first is the one sent.
 */
export function staticCredentials(integrationName: string, integration: IntegrationConfig, secrets: SecretsProvider): CredentialsProvider {
  return {
    async authHeaders(connection) {
      const auth = connectionAuth(integration, connection);
      if (!auth) {
        throw new ToolError('AUTHENTICATION_FAILED', { message: `integration "${integrationName}" has no connection "${connection}"` });
      }
      switch (auth.type) {
        case 'none':
          return {};
        case 'apiKey': {
          const [key] = splitSecretValues(await secrets.get(auth.secret));
          if (!key) {
            throw new ToolError('AUTHENTICATION_FAILED', {
              message: `credentials for "${integrationName}" are missing (secret ${auth.secret} is not set)`,
            });
          }
          const { header, prefix } = apiKeyHeader(integrationName, auth);
          return { [header]: `${prefix}${key}` };
        }
        case 'oauth2':
          throw new ToolError('AUTHENTICATION_FAILED', {
            message: `connection "${connection}" of "${integrationName}" has no OAuth token yet`,
          });
      }
    },
  };
}
