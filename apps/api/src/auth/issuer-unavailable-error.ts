/**
 * The authorization server's metadata or key set (JWKS) cannot be read right
 * now (refused, timed out, not JSON, not the issuer it should be), so an access
 * token cannot be checked either way. The client cannot fix that by getting
 * another token, so `/mcp` answers 503 `UNAVAILABLE` with `Retry-After`, not
 * 401: a 401 would send an MCP client back through the whole OAuth flow.
 */
export class IssuerUnavailableError extends Error {
  override readonly name = 'IssuerUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
