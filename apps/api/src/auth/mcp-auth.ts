import type { Request, RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import { AccessTokenRefusedError } from './access-token-refused-error';
import { looksLikeJwt } from './access-tokens';
import { bearerToken, unauthenticated, type AgentResolver } from './agent-auth';
import { IssuerUnavailableError } from './issuer-unavailable-error';
import type { McpOAuth } from './mcp-oauth';

/** How long a client should wait after a 503 for an unreadable issuer; the failed refresh is held about as long. */
export const ISSUER_RETRY_AFTER_SECONDS = 2;

/** An RFC 9110 quoted-string; RFC 6750 §3 allows no `"` or `\` inside `error_description`, so those are dropped. */
const quoted = (value: string) => `"${value.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;

/**
 * RFC 6750 §3 / RFC 9728 §5.1 challenge: `Bearer resource_metadata="…"`, and
 * `error="invalid_token"` with a description when a token was presented and refused.
 */
function challenge(oauth: McpOAuth, req: Request, refused?: string): string {
  const params: string[] = [];
  if (refused !== undefined) params.push(`error="invalid_token"`, `error_description=${quoted(refused)}`);
  const metadata = oauth.resource.metadataUrl(req);
  if (metadata) params.push(`resource_metadata=${quoted(metadata)}`);
  return params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer';
}

/**
 * Authentication of `/mcp`: an agent key, as on every route; and, with
 * `mcp.authorizationServer`, a JWT access token from that server (docs/mcp-and-openclaw.md#oauth-for-mcp-clients),
 * which speaks for the agent its claim names, with the scopes it and the agent
 * share. Only `/mcp` takes tokens; `/v1/*` keeps agent keys only.
 *
 * Answers: no credential → 401 with `WWW-Authenticate: Bearer resource_metadata="…"`,
 * where an MCP client finds the authorization server (RFC 9728 §5); a refused
 * token → the same 401 plus `error="invalid_token"` (RFC 6750 §3.1); the
 * issuer's keys unreadable → 503 `UNAVAILABLE` with `Retry-After`, as a new
 * token would not help. Without `mcp.authorizationServer` this is `agentAuth`.
 */
export function mcpAuth(resolveAgent: AgentResolver, oauth: McpOAuth | undefined, logger: Logger): RequestHandler {
  const refuse = (req: Request, detail: string, reason?: string) =>
    oauth ? new ProblemError('UNAUTHENTICATED', detail, undefined, { 'WWW-Authenticate': challenge(oauth, req, reason) }) : unauthenticated(detail);

  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) {
      throw refuse(req, oauth ? 'Send an agent key or an OAuth access token as "Authorization: Bearer <token>".' : 'Send the agent key as "Authorization: Bearer <key>".');
    }
    const agent = await resolveAgent(token);
    if (agent) {
      res.locals.agent = agent;
      return next();
    }
    if (!oauth) throw unauthenticated('The agent key is not valid.');
    if (!looksLikeJwt(token)) throw refuse(req, 'The token is neither an agent key nor a JWT access token.', 'not an agent key nor a JWT');
    const audiences = oauth.resource.audiences(req);
    if (audiences.length === 0) {
      const reason = 'this broker does not know its own MCP URL on this host';
      throw refuse(req, `Access token refused: ${reason}; the operator sets BROKER_PUBLIC_URL or mcp.authorizationServer.audience.`, reason);
    }
    try {
      res.locals.agent = await oauth.verify(token, audiences);
    } catch (err) {
      if (err instanceof AccessTokenRefusedError) {
        logger.info({ requestId: res.locals.requestId, reason: err.reason }, 'mcp access token refused');
        throw refuse(req, `Access token refused: ${err.reason}.`, err.reason);
      }
      if (err instanceof IssuerUnavailableError) {
        throw new ProblemError('UNAVAILABLE', "The authorization server's keys cannot be read right now, so the access token cannot be checked; try again shortly.", undefined, {
          'Retry-After': String(ISSUER_RETRY_AFTER_SECONDS),
        });
      }
      throw err;
    }
    next();
  };
}
