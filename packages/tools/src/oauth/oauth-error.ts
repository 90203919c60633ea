/**
 * Why a connection could not supply an access token:
 * - `missing`: nothing stored yet (an operator must connect or import tokens);
 * - `needs_reauth`: the provider refused the refresh token (`invalid_grant`), or the
 *   token expired with nothing to refresh it: only a new connect/import helps;
 * - `rejected`: the token endpoint refused the client itself (bad client secret,
 *   unauthorized client): fixing configuration helps, retrying does not;
 * - `unavailable`: the token endpoint could not be reached or answered 5xx, or another
 *   process's refresh did not finish in time: trying again later may succeed.
 */
export type OAuthFailure = 'missing' | 'needs_reauth' | 'rejected' | 'unavailable';

/**
 * A failure to obtain an access token. Messages name the integration, the
 * connection and the provider's error code, never a token or a secret; no
 * `cause` is kept, because transport errors carry the request body (the refresh
 * token, the client secret).
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly kind: OAuthFailure,
    message: string,
    /** The provider's `error` field (RFC 6749 §5.2), when it sent one. */
    readonly providerError?: string,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.kind === 'unavailable';
  }
}
