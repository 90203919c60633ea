import { z } from 'zod';

/*
 * `/mcp` as an OAuth 2.1 resource server (docs/mcp-and-openclaw.md#oauth-for-mcp-clients; the MCP authorization
 * spec): the authorization server whose JWT access tokens `/mcp` accepts
 * beside agent keys, and the claim that names the agent.
 */

/** A host that resolves without DNS to this machine: plain http is acceptable there (tests, a local IdP). */
export function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * An issuer identifier (RFC 8414 §2): https, no query or fragment; http only on a
 * loopback host. Kept exactly as written: a token's `iss` must equal it character
 * for character, trailing slash included.
 */
const issuerUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    const secure = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHostname(url.hostname));
    // The raw text too: the parser drops an empty `?` or `#`, which would still make `iss` differ.
    return secure && !url.username && !url.password && !url.search && !url.hash && !text.includes('#') && !text.includes('?');
  } catch {
    return false;
  }
}, 'must be an https URL without query or fragment, such as "https://login.example.com/tenant" (http only on a loopback host)');

export const mcpAuthorizationServerSchema = z.strictObject({
  /** The authorization server's issuer identifier; its metadata names the JWKS that signs the tokens. */
  issuer: issuerUrl,
  /**
   * A token's `aud` may name this instead of the broker's MCP URL (for an
   * authorization server that issues one audience per API, such as Auth0's).
   * @defaultValue only the MCP URL
   */
  audience: z.string().min(1).max(2048).optional(),
});

/** The claim of an access token that holds the agent's id. @defaultValue "sub" */
export const mcpAgentClaimSchema = z.string().regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'a claim name such as "sub", "client_id" or "azp"');

export type McpAuthorizationServerConfig = z.output<typeof mcpAuthorizationServerSchema>;
