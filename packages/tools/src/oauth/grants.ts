import { createHash, randomBytes } from 'node:crypto';
import { OAuthError } from './oauth-error';
import type { FetchToken } from './token-manager';
import type { OAuth2Auth, TokenSet } from './tokens';
import type { SecretsProvider } from '../secrets/provider';
import type { EgressProxy } from '../http/upstream-agents';
import { requestToken, tokenEndpointClient, TOKEN_REQUEST_TIMEOUT_MS, type TokenEndpointClient } from './token-endpoint';

/** A PKCE pair (RFC 7636): the verifier stays with the broker, the S256 challenge goes to the provider. */
export function pkcePair(): { verifier: string; challenge: string } {
  // 32 random bytes → 43 base64url characters, the shortest verifier §4.1 allows, at full entropy.
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  return { verifier, challenge };
}

/** The provider's authorization URL for one connect (RFC 6749 §4.1.1 + RFC 7636 §4.3). */
export function authorizationUrl(auth: OAuth2Auth & { authorizeUrl: string }, request: { redirectUri: string; state: string; codeChallenge: string }): string {
  const url = new URL(auth.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', auth.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  url.searchParams.set('state', request.state);
  url.searchParams.set('code_challenge', request.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (auth.scopes && auth.scopes.length > 0) url.searchParams.set('scope', auth.scopes.join(' '));
  return url.toString();
}

/** Trades an authorization code for tokens (RFC 6749 §4.1.3), proving possession of the PKCE verifier. */
export function exchangeAuthorizationCode(
  auth: OAuth2Auth,
  secrets: SecretsProvider,
  request: {
    integration: string;
    connection: string;
    code: string;
    codeVerifier: string;
    redirectUri: string;
    timeoutMs?: number;
    /** The process's token client ({@link tokenEndpointClient}). */
    client: TokenEndpointClient;
  },
): Promise<TokenSet> {
  return requestToken(
    auth,
    secrets,
    { grant_type: 'authorization_code', code: request.code, redirect_uri: request.redirectUri, code_verifier: request.codeVerifier },
    {
      integration: request.integration,
      connection: request.connection,
      client: request.client,
      ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
    },
  );
}

/**
 * The token source of the refresh manager (`OAuthTokenManager` in ./token-manager):
 * client credentials fetch a new token (§4.4; such answers carry no refresh
 * token, §4.4.3), authorization-code connections use their refresh token (§6).
 */
export function oauthTokenFetcher(
  secrets: SecretsProvider,
  settings: {
    /** The process's egress proxy; NO_PROXY exempts providers' hosts. @defaultValue undefined: direct */
    proxy?: EgressProxy | undefined;
    /** @defaultValue {@link TOKEN_REQUEST_TIMEOUT_MS} */
    timeoutMs?: number;
  } = {},
): FetchToken {
  const client = tokenEndpointClient({ proxy: settings.proxy });
  const timeoutMs = settings.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  return async ({ integration, connection, auth, refreshToken }) => {
    const options = { integration, connection, timeoutMs, client };
    if (auth.grant === 'client_credentials') {
      const params: Record<string, string> = { grant_type: 'client_credentials' };
      if (auth.scopes && auth.scopes.length > 0) params.scope = auth.scopes.join(' ');
      return requestToken(auth, secrets, params, options);
    }
    if (!refreshToken) throw new OAuthError('needs_reauth', `connection "${connection}" of "${integration}" has no refresh token`);
    return requestToken(auth, secrets, { grant_type: 'refresh_token', refresh_token: refreshToken }, options);
  };
}
