import type { BrokerConfig } from '@broker/shared/config/schema';
import { authOfConnection, type OAuthConnectionState } from '../secrets/connection-state';
import { splitSecretValues, type SecretsProvider } from '../secrets/provider';
import type { OAuthTokenStore } from './token-store';

export interface OAuthConnectionStateDeps {
  secrets: SecretsProvider;
  /** Only the non-secret state is read: no decryption, so the encryption key is not needed. */
  tokens: Pick<OAuthTokenStore, 'state'>;
  now?: () => number;
}

/**
 * The `oauth2` answer of `connectionState` (secrets/connection-state.ts),
 * from the token store, without calling anyone:
 * - `needs_reauth` once the provider refused the refresh token (`invalid_grant`),
 *   or when the stored token expired with no refresh token to renew it;
 * - `ok` while a stored token is valid or refreshable, and for client
 *   credentials whose client secret is set (a token is fetched on first use);
 * - `missing` when nothing is stored (connect or import first).
 */
export function oauthConnectionState(config: BrokerConfig, deps: OAuthConnectionStateDeps): OAuthConnectionState {
  return async (integrationName, connection) => {
    const integration = config.integrations[integrationName];
    const auth = integration && authOfConnection(integration, connection);
    if (!auth || auth.type !== 'oauth2') return 'missing';
    const stored = await deps.tokens.state(integrationName, connection);
    if (stored.status === 'needs_reauth') return 'needs_reauth';
    if (auth.grant === 'client_credentials') {
      if (stored.hasTokens) return 'ok';
      return splitSecretValues(await deps.secrets.get(auth.clientSecret)).length > 0 ? 'ok' : 'missing';
    }
    if (!stored.hasTokens) return 'missing';
    const expired = stored.expiresAt !== undefined && stored.expiresAt <= (deps.now ?? Date.now)();
    return !expired || stored.refreshable ? 'ok' : 'needs_reauth';
  };
}
