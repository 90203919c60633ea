import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { requestToken, tokenEndpointClient } from '@broker/tools/oauth/token-endpoint';
import type { OAuth2Auth } from '@broker/tools/oauth/tokens';
import { StubServer } from '../helpers/stub-server';

/**
 * A token endpoint's refusal keeps the provider's `error_description` in the
 * error (which the connection state, the job and the logs keep), without any
 * value the request sent, in whatever spelling the provider quotes it back.
 */

// Values with the characters JSON encoders escape and URL encoding changes; their runs are what must not come back.
const REFRESH_TOKEN = 'rt-Kq3x/Vw9z+Lm4p/Tr8s';
const CLIENT_SECRET = 'cs-Hd7n+Pq2w/Zx5c';
const runsOf = (value: string) => value.split(/[/+]/);

let stub: StubServer;
/** How the stub spells the values it quotes back. */
let spell: (value: string) => string;
beforeAll(async () => {
  stub = await StubServer.start((req) => {
    const form = new URLSearchParams(req.body);
    const quoted = { refresh_token: spell(form.get('refresh_token')!), client_secret: spell(form.get('client_secret')!) };
    return { status: 400, body: { error: 'invalid_grant', error_description: `cannot refresh with {"token":"${quoted.refresh_token}","secret":"${quoted.client_secret}"}` } };
  });
});
afterAll(() => stub.close());

const refresh = () => {
  const auth: OAuth2Auth = {
    type: 'oauth2',
    grant: 'authorization_code',
    tokenUrl: `${stub.url}/token`,
    clientId: 'crm-client',
    clientSecret: 'CRM_CLIENT_SECRET',
    tokenAuthMethod: 'client_secret_post',
  };
  const secrets = envSecretsProvider({ CRM_CLIENT_SECRET: CLIENT_SECRET });
  return requestToken(auth, secrets, { grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN }, { integration: 'crm', connection: 'default', client: tokenEndpointClient() });
};

describe('a refused refresh quoting the request back', () => {
  it.each<[string, (value: string) => string]>([
    ['JSON with \\/ (PHP json_encode)', (v) => v.replaceAll('/', '\\/')],
    ['JSON with \\u002f and \\u002b', (v) => v.replaceAll('/', '\\u002f').replaceAll('+', '\\u002b')],
    ['JSON with \\u002F and \\u002B', (v) => v.replaceAll('/', '\\u002F').replaceAll('+', '\\u002B')],
    ['URL-encoded', (v) => encodeURIComponent(v)],
  ])('keeps the description without the refresh token or the client secret: %s', async (_, how) => {
    spell = how;
    const err = (await refresh().then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { kind: string };
    expect(err).toMatchObject({ name: 'OAuthError', kind: 'needs_reauth' });
    expect(err.message).toContain('invalid_grant (cannot refresh with {"token":"[redacted]","secret":"[redacted]"})');
    for (const run of [...runsOf(REFRESH_TOKEN), ...runsOf(CLIENT_SECRET)]) expect(err.message).not.toContain(run);
    // The provider did get both, so the search above could have found them.
    const sent = new URLSearchParams(stub.requests.at(-1)!.body);
    expect([sent.get('refresh_token'), sent.get('client_secret')]).toEqual([REFRESH_TOKEN, CLIENT_SECRET]);
  });
});
