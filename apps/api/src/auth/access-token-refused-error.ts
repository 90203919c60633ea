/**
 * An access token that is not accepted: bad signature, another issuer or
 * audience, expired, a refused algorithm, or naming no configured agent.
 * `/mcp` answers 401 with `WWW-Authenticate: Bearer error="invalid_token"`
 * (RFC 6750 §3.1). `reason` is written for the client and names no key
 * material or claim value.
 */
export class AccessTokenRefusedError extends Error {
  override readonly name = 'AccessTokenRefusedError';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`access token refused: ${reason}`, options);
  }
}
