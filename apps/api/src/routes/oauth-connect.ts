import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { ProblemError } from '@broker/shared/errors/problem';
import { authorizationUrl, pkcePair } from '@broker/tools/oauth';
import type { OAuthContext } from '../oauth/oauth-context';
import { encryptionProblem, oauthConnection } from '../oauth/oauth-connection';
import { withRedisDeadline } from '../redis/deadline';
import { parseQuery } from '../http/parse-query';

const querySchema = z.object({
  connection: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a connection name')
    .optional(),
});

function redirectUriFor(oauth: OAuthContext, req: Request, integration: string): string {
  const base = oauth.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
  return `${base}/oauth/${encodeURIComponent(integration)}/callback`;
}

/**
 * `GET /oauth/{integration}/connect?connection=<name>` (admin token): starts
 * the authorization-code flow with PKCE (RFC 7636, S256). The state, the
 * verifier and the redirect URI are kept in Redis, sealed, for 10 minutes and
 * for one callback; the answer is a 302 to the provider's `authorizeUrl`.
 * A connection that does not use the authorization-code grant is 409.
 */
export function oauthConnect(oauth: OAuthContext): RequestHandler<{ integration: string }> {
  return async (req, res) => {
    const query = parseQuery(querySchema, req.query);
    const integration = req.params.integration;
    const connection = query.connection ?? 'default';
    const auth = oauthConnection(oauth.config, integration, connection);
    if (auth.grant !== 'authorization_code') {
      throw new ProblemError('CONFLICT', `Connection "${connection}" of "${integration}" uses the client_credentials grant: there is nothing to connect.`);
    }
    const authorizeUrl = auth.authorizeUrl;
    if (!authorizeUrl) throw new ProblemError('CONFLICT', `Integration "${integration}" has no authorizeUrl configured for connection "${connection}".`);

    // Refuse before sending the user to the provider if the callback could not store the tokens.
    await oauth.cipher.check().catch((err: unknown) => {
      throw encryptionProblem(err);
    });
    const { verifier, challenge } = pkcePair();
    const redirectUri = redirectUriFor(oauth, req, integration);
    const state = await withRedisDeadline(oauth.requests.begin({ integration, connection, codeVerifier: verifier, redirectUri }));
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, authorizationUrl({ ...auth, authorizeUrl }, { redirectUri, state, codeChallenge: challenge }));
  };
}
