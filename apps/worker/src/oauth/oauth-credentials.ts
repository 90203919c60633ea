import type { RedisClient } from '@broker/redis/connection';
import { OAuthError } from '@broker/tools/oauth/oauth-error';
import { OAuthTokenManager } from '@broker/tools/oauth/token-manager';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { RedisKeys } from '@broker/redis/keys';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { oauthCredentials, oauthTokenFetcher, type CredentialsProvider, type EgressProxy } from '@broker/tools';

export interface OAuthWiring {
  config: BrokerConfig;
  redis: RedisClient;
  keys: RedisKeys;
  secrets: SecretsProvider;
  logger: Logger;
  /** Told when a connection's tokens can no longer be refreshed (alerting). Must not throw. */
  onNeedsReauth?: (integration: string, connection: string, reason: string) => void;
  /** Token endpoints are called through it, as upstreams are. @defaultValue undefined: direct */
  egressProxy?: EgressProxy | undefined;
}

/**
 * Credentials for each integration: OAuth connections get tokens from one
 * refresh manager per process (tokens sealed in Redis, refreshed once across
 * every worker); API-key and unauthenticated connections are unchanged.
 */
export function oauthCredentialsFor({ config, redis, keys, secrets, logger, onNeedsReauth, egressProxy }: OAuthWiring): (name: string) => CredentialsProvider {
  const manager = new OAuthTokenManager({
    store: new OAuthTokenStore(redis, keys, new TokenCipher(secrets)),
    fetchToken: oauthTokenFetcher(secrets, { proxy: egressProxy }),
    logger,
  });
  return (name) =>
    oauthCredentials(name, config.integrations[name]!, secrets, ({ connection, auth, forceRefresh, rejectedToken }) =>
      manager.accessToken({ integration: name, connection, auth, forceRefresh, ...(rejectedToken ? { rejectedToken } : {}) }).catch((err: unknown) => {
        if (err instanceof OAuthError && err.kind === 'needs_reauth') onNeedsReauth?.(name, connection, err.providerError ?? err.message);
        throw err;
      }),
    );
}
