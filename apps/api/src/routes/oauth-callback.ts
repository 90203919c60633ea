import type { RequestHandler } from 'express';
import { OAuthError } from '@broker/tools/oauth/oauth-error';
import { ProblemError } from '@broker/shared/errors/problem';
import { exchangeAuthorizationCode } from '@broker/tools/oauth';
import type { OAuthContext } from '../oauth/oauth-context';
import { encryptionProblem, oauthConnection } from '../oauth/oauth-connection';
import { withRedisDeadline } from '../redis/deadline';

const single = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function exchangeProblem(err: unknown): unknown {
  if (!(err instanceof OAuthError)) return err;
  if (err.kind === 'unavailable') {
    return new ProblemError('UNAVAILABLE', `The provider's token endpoint failed: ${err.message}. Start again at the connect URL.`);
  }
  return new ProblemError('BAD_REQUEST', `The provider refused the authorization code: ${err.message}. Start again at the connect URL.`);
}

/**
 * `GET /oauth/{integration}/callback?code&state`: where the provider sends the
 * user back. No broker credential here (it is the user's browser): the state
 * is the proof, valid once and for 10 minutes. The code is exchanged with the
 * PKCE verifier, and the tokens are stored sealed, replacing any earlier ones
 * and clearing a `needs_reauth` mark. Neither the code nor a token is logged
 * (the access log records the path only).
 */
export function oauthCallback(oauth: OAuthContext): RequestHandler<{ integration: string }> {
  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const state = single(req.query.state);
    if (!state) throw new ProblemError('BAD_REQUEST', 'The callback has no state.');
    const pending = await withRedisDeadline(oauth.requests.take(state)).catch((err: unknown) => {
      throw encryptionProblem(err);
    });
    if (!pending || pending.integration !== req.params.integration) {
      throw new ProblemError('BAD_REQUEST', 'Unknown, expired or already used state. Start again at the connect URL.');
    }
    const { integration, connection } = pending;
    const providerError = single(req.query.error);
    if (providerError) {
      const reason = providerError.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64);
      throw new ProblemError('BAD_REQUEST', `The provider did not authorize connection "${connection}" of "${integration}": ${reason}.`);
    }
    const code = single(req.query.code);
    if (!code) throw new ProblemError('BAD_REQUEST', 'The callback has no code.');

    const auth = oauthConnection(oauth.config, integration, connection);
    const tokens = await exchangeAuthorizationCode(auth, oauth.secrets, {
      integration,
      connection,
      code,
      codeVerifier: pending.codeVerifier,
      redirectUri: pending.redirectUri,
      client: oauth.tokenClient,
    }).catch((err: unknown) => {
      throw exchangeProblem(err);
    });
    await withRedisDeadline(oauth.tokens.importTokens(integration, connection, tokens)).catch((err: unknown) => {
      throw encryptionProblem(err);
    });
    oauth.logger.info({ integration, connection, refreshable: Boolean(tokens.refreshToken) }, 'OAuth connection connected');
    res.json({ connected: true, integration, connection });
  };
}
