import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { ProblemError, toPointer, type FieldError } from '@broker/shared/errors/problem';
import { putConnectionTokenBodySchema } from '@broker/shared/oauth/token-import-schema';
import type { TokenSet } from '@broker/tools/oauth/tokens';
import type { OAuthContext } from '../oauth/oauth-context';
import { encryptionProblem, oauthConnection } from '../oauth/oauth-connection';
import { withRedisDeadline } from '../redis/deadline';

function bodyErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ pointer: toPointer([...issue.path, key]), message: 'is not a known field' }))
      : [{ pointer: toPointer(issue.path), message: issue.message }],
  );
}

/**
 * `PUT /v1/integrations/{name}/connections/{connection}/token` (admin token):
 * seeds or replaces a connection's tokens → 204. Unknown integration or
 * connection: 404; a connection whose auth is not oauth2: 409 `CONFLICT`; a
 * bad body: 422 with pointers. The write is one sealed field and wins over a
 * refresh in flight; it clears a `needs_reauth` mark. An `expiresAt` already
 * past is accepted (the token is refreshed on first use).
 */
export function putConnectionToken(oauth: OAuthContext): RequestHandler<{ name: string; connection: string }> {
  return async (req, res) => {
    const { name, connection } = req.params;
    oauthConnection(oauth.config, name, connection);
    const parsed = putConnectionTokenBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ProblemError('VALIDATION_ERROR', 'The body is not a valid token.', bodyErrors(parsed.error));
    const body = parsed.data;
    const tokens: TokenSet = { accessToken: body.accessToken };
    if (body.refreshToken) tokens.refreshToken = body.refreshToken;
    if (body.expiresIn !== undefined) tokens.expiresAt = Date.now() + body.expiresIn * 1000;
    if (body.expiresAt !== undefined) tokens.expiresAt = Date.parse(body.expiresAt);

    await withRedisDeadline(oauth.tokens.importTokens(name, connection, tokens)).catch((err: unknown) => {
      throw encryptionProblem(err);
    });
    oauth.logger.info({ integration: name, connection, operator: res.locals.operator, refreshable: Boolean(tokens.refreshToken) }, 'OAuth tokens imported');
    res.status(204).end();
  };
}
