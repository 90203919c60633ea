import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { McpOAuth } from '../auth/mcp-oauth';

/** RFC 9728 §2, the members this broker has something to say about. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: ['header'];
  scopes_supported?: string[];
  resource_name: string;
}

/**
 * `GET /.well-known/oauth-protected-resource[/mcp]` (RFC 9728 §3; the MCP
 * authorization spec): names `/mcp` as the resource and the configured issuer
 * as its authorization server, so an MCP client that got a 401 knows where to
 * get a token. Public, and readable cross-origin (browser-based MCP clients
 * read it); 404 without `mcp.authorizationServer`.
 */
export function protectedResourceMetadata(oauth: McpOAuth | undefined): RequestHandler {
  return (req, res) => {
    if (!oauth) throw new ProblemError('NOT_FOUND', 'This broker accepts no OAuth access tokens (mcp.authorizationServer is not set).');
    const resource = oauth.resource.url(req);
    if (!resource) throw new ProblemError('BAD_REQUEST', 'The Host header does not make a URL, and BROKER_PUBLIC_URL is not set.');
    const body: ProtectedResourceMetadata = {
      resource,
      authorization_servers: [oauth.issuer],
      bearer_methods_supported: ['header'],
      ...(oauth.scopesSupported.length > 0 ? { scopes_supported: oauth.scopesSupported } : {}),
      resource_name: 'Agent request broker (MCP)',
    };
    res.json(body);
  };
}

/**
 * CORS for the metadata, on every method: `Access-Control-Allow-Origin: *`,
 * and a preflight (MCP clients send `MCP-Protocol-Version`) answered 204 here.
 */
export function protectedResourceMetadataCors(): RequestHandler {
  return (req, res, next) => {
    res.set('Access-Control-Allow-Origin', '*');
    if (req.method !== 'OPTIONS') return next();
    res.set({ 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': '*', 'Access-Control-Max-Age': '86400' }).status(204).end();
  };
}
