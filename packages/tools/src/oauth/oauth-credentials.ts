import { EncryptionKeyError } from './encryption-key-error';
import { OAuthError } from './oauth-error';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { OAuth2Auth } from './tokens';
import type { SecretsProvider } from '../secrets/provider';
import { connectionAuth, staticCredentials, type CredentialsProvider } from '../http/credentials';
import { ToolError } from '../tool-error';

/** Where access tokens come from (the worker passes the shared refresh manager; this opens no Redis connection of its own). */
export type AccessTokenSource = (request: {
  connection: string;
  auth: OAuth2Auth;
  /** After a 401. */
  forceRefresh: boolean;
  /** The token the upstream refused. */
  rejectedToken?: string;
}) => Promise<string>;

function bearerOf(headers: Record<string, string> | undefined): string | undefined {
  if (!headers) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'authorization') return /^Bearer\s+(.+)$/i.exec(value)?.[1];
  }
  return undefined;
}

/** A failure to get a token, as the job error an agent reads: retryable only when the provider was unreachable. */
function asToolError(err: unknown): unknown {
  if (err instanceof OAuthError) {
    if (err.kind === 'unavailable') return new ToolError('UPSTREAM_ERROR', { message: `OAuth: ${err.message}`, retryable: true });
    return new ToolError('AUTHENTICATION_FAILED', { message: `OAuth: ${err.message}` });
  }
  if (err instanceof EncryptionKeyError) {
    return new ToolError('AUTHENTICATION_FAILED', { message: `OAuth tokens unreadable: ${err.message}` });
  }
  return err;
}

/**
 * Credentials for an integration whose connections may use OAuth 2.0: an
 * `oauth2` connection sends `Authorization: Bearer <access token>` from
 * `getAccessToken`; the others keep their API key or nothing. After a 401 the
 * token source is asked to refresh, told which token was refused, so that 50
 * jobs refused at once do not refresh 50 times.
 */
export function oauthCredentials(integrationName: string, integration: IntegrationConfig, secrets: SecretsProvider, getAccessToken: AccessTokenSource): CredentialsProvider {
  const others = staticCredentials(integrationName, integration, secrets);
  return {
    async authHeaders(connection, options) {
      const auth = connectionAuth(integration, connection);
      if (auth?.type !== 'oauth2') return others.authHeaders(connection, options);
      const rejectedToken = options.forceRefresh ? bearerOf(options.rejectedHeaders) : undefined;
      try {
        const token = await getAccessToken({ connection, auth, forceRefresh: options.forceRefresh, ...(rejectedToken ? { rejectedToken } : {}) });
        return { Authorization: `Bearer ${token}` };
      } catch (err) {
        throw asToolError(err);
      }
    },
  };
}
