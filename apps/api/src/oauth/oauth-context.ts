import type { RedisClient } from '@broker/redis/connection';
import { AuthorizationRequestStore } from '@broker/tools/oauth/auth-request-store';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { RedisKeys } from '@broker/redis/keys';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import type { EgressProxy } from '@broker/tools/http';
import { tokenEndpointClient, type TokenEndpointClient } from '@broker/tools/oauth';

/** What the OAuth routes share. */
export interface OAuthContext {
  config: BrokerConfig;
  secrets: SecretsProvider;
  cipher: TokenCipher;
  tokens: OAuthTokenStore;
  requests: AuthorizationRequestStore;
  logger: Logger;
  /**
   * The API's public base URL (`BROKER_PUBLIC_URL`), from which the redirect URI
   * registered with providers is built: `<publicUrl>/oauth/<integration>/callback`.
   * Without it, the URL the connect request came in on is used.
   */
  publicUrl: string | undefined;
  /** Calls providers' token endpoints (the code exchange); one for the process. */
  tokenClient: TokenEndpointClient;
}

export function createOAuthContext(options: {
  config: BrokerConfig;
  redis: RedisClient;
  keys: RedisKeys;
  secrets: SecretsProvider;
  logger: Logger;
  publicUrl: string | undefined;
  egressProxy?: EgressProxy | undefined;
}): OAuthContext {
  const cipher = new TokenCipher(options.secrets);
  return {
    config: options.config,
    secrets: options.secrets,
    cipher,
    tokens: new OAuthTokenStore(options.redis, options.keys, cipher),
    requests: new AuthorizationRequestStore(options.redis, options.keys, cipher),
    logger: options.logger,
    publicUrl: options.publicUrl?.replace(/\/+$/, ''),
    tokenClient: tokenEndpointClient({ proxy: options.egressProxy }),
  };
}
