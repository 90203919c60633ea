/*
 * A real OAuth 2.0 authorization server for test/api/mcp-oauth.test.ts:
 * oauth2-mock-server's issuer (JWKS, OpenID discovery, signed JWTs), run as its
 * own process because it is ESM-only and jest runs tests as CommonJS. Its
 * discovery document is at /.well-known/openid-configuration only, so the
 * broker's RFC 8414 lookup finds nothing first and falls back, as with many
 * OpenID providers. On top of the library this process:
 * - counts every request by path (GET /__stats), so a test sees how often the
 *   broker reads the metadata and the JWKS;
 * - signs tokens on request (POST /__sign {claims, header, kid, expiresIn, stranger}),
 *   `stranger` with a key of the same kid that the JWKS does not publish;
 * - adds a signing key (POST /__rotate {alg, kid}), as a key rotation does.
 * Prints `READY <port>` when listening.
 */
import { createServer } from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256', { kid: 'k1' });
/** Signs with keys whose kids the real issuer uses, but which it never publishes. */
const stranger = new OAuth2Issuer();
await stranger.keys.generate('RS256', { kid: 'k1' });
await stranger.keys.generate('RS256', { kid: 'unpublished' });

const service = new OAuth2Service(issuer);
const counts = {};

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

service.addRoute('POST', '/__sign', async (req, res) => {
  const { claims = {}, header = {}, kid = 'k1', expiresIn, stranger: byStranger = false } = req.body ?? {};
  const signer = byStranger ? stranger : issuer;
  const token = await signer.buildToken({
    kid,
    expiresIn,
    scopesOrTransform: (h, payload) => {
      Object.assign(h, header);
      for (const [name, value] of Object.entries(claims)) {
        if (value === null) delete payload[name];
        else payload[name] = value;
      }
    },
  });
  json(res, 200, { token });
});

service.addRoute('POST', '/__rotate', async (req, res) => {
  const { alg = 'RS256', kid } = req.body ?? {};
  const key = await issuer.keys.generate(alg, { kid });
  json(res, 200, { kid: key.kid });
});

service.addRoute('GET', '/__stats', (_req, res) => json(res, 200, { counts }));

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://issuer').pathname;
  if (!path.startsWith('/__')) counts[path] = (counts[path] ?? 0) + 1;
  service.requestHandler(req, res);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer.url = `http://127.0.0.1:${port}`;
  stranger.url = issuer.url;
  process.stdout.write(`READY ${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
