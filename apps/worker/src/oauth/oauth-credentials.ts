import type { Redis } from 'ioredis';
import { OAuthTokenManager, OAuthTokenStore, TokenCipher, type BrokerConfig, type Logger, type RedisKeys, type SecretsProvider } from '@broker/shared';
import { oauthCredentials, oauthTokenFetcher, type CredentialsProvider } from '@broker/tools';

export interface OAuthWiring {
  config: BrokerConfig;
  redis: Redis;
  keys: RedisKeys;
  secrets: SecretsProvider;
  logger: Logger;
}

/**
 * Credentials for each integration: OAuth connections get tokens from one
 * refresh manager per process (tokens sealed in Redis, refreshed once across
 * every worker); API-key and unauthenticated connections are unchanged.
 */
export function oauthCredentialsFor({ config, redis, keys, secrets, logger }: OAuthWiring): (name: string) => CredentialsProvider {
  const manager = new OAuthTokenManager({
    store: new OAuthTokenStore(redis, keys, new TokenCipher(secrets)),
    fetchToken: oauthTokenFetcher(secrets),
    logger,
  });
  return (name) =>
    oauthCredentials(name, config.integrations[name]!, secrets, ({ connection, auth, forceRefresh, rejectedToken }) =>
      manager.accessToken({ integration: name, connection, auth, forceRefresh, ...(rejectedToken ? { rejectedToken } : {}) }),
    );
}
