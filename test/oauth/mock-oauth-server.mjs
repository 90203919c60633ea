/*
 * A real OAuth 2.0 authorization server (oauth2-mock-server, ESM-only) run as
 * its own process: jest transforms tests to CommonJS and cannot import it.
 * On top of the library's own behaviour (authorize → redirect with a code,
 * PKCE S256 checked at the token endpoint, JWT access tokens, a new refresh
 * token on every authorization_code/refresh_token grant), this process:
 * - makes refresh tokens single use (rotation, as Auth0/Okta do): a refresh
 *   token works once, after which the provider answers invalid_grant;
 * - records every token request (grant, client authentication, tokens issued);
 * - takes instructions on POST /__control and reports on GET /__stats.
 * Prints `READY <port>` when listening.
 */
import { randomUUID } from 'node:crypto';
import { Events, OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

const control = { expiresIn: null, failRefresh: null, delayMs: 0 };
/** Refresh tokens the server will accept, each once. */
const valid = new Set();
const requests = [];

// Real providers never issue the same token twice; the library's JWTs are identical within one second.
server.service.on(Events.BeforeTokenSigning, (token) => {
  token.payload.jti = randomUUID();
});

server.service.on(Events.BeforeResponse, (response, req) => {
  const body = req.body ?? {};
  const authorization = req.headers.authorization ?? '';
  const entry = {
    grantType: body.grant_type,
    clientAuth: authorization.startsWith('Basic ') ? 'basic' : body.client_secret ? 'post' : 'none',
    basic: authorization.startsWith('Basic ') ? Buffer.from(authorization.slice(6), 'base64').toString('utf8') : undefined,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    hasVerifier: typeof body.code_verifier === 'string',
    redirectUri: body.redirect_uri,
    presentedRefreshToken: body.refresh_token,
    scope: body.scope,
  };
  // A slow provider: holds this (single-threaded) server, so concurrent token requests would pile up behind it.
  if (control.delayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, control.delayMs);
  if (body.grant_type === 'refresh_token') {
    if (control.failRefresh) {
      response.statusCode = 400;
      // Echoes the refused token, as some providers do: the broker must not repeat it.
      response.body = { error: control.failRefresh, error_description: `refresh token ${body.refresh_token} is no longer valid` };
    } else if (!valid.has(body.refresh_token)) {
      response.statusCode = 400;
      response.body = { error: 'invalid_grant', error_description: 'unknown or already used refresh token' };
    } else {
      valid.delete(body.refresh_token);
    }
  }
  if (response.statusCode === 200) {
    if (control.expiresIn !== null) response.body.expires_in = control.expiresIn;
    if (response.body.refresh_token) valid.add(response.body.refresh_token);
    entry.accessToken = response.body.access_token;
    entry.refreshToken = response.body.refresh_token;
  }
  entry.status = response.statusCode;
  entry.error = response.body.error;
  requests.push(entry);
});

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

server.service.addRoute('POST', '/__control', (req, res) => {
  const body = req.body ?? {};
  if ('expiresIn' in body) control.expiresIn = body.expiresIn;
  if ('failRefresh' in body) control.failRefresh = body.failRefresh;
  if ('delayMs' in body) control.delayMs = body.delayMs;
  for (const token of body.validRefreshTokens ?? []) valid.add(token);
  json(res, 200, { ok: true });
});

server.service.addRoute('GET', '/__stats', (_req, res) => json(res, 200, { requests }));

await server.start(0, '127.0.0.1');
process.stdout.write(`READY ${server.address().port}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
