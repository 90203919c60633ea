import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { OAuthTokenManager } from '@broker/tools/oauth/token-manager';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { redisKeys } from '@broker/redis/keys';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { OAuth2Auth } from '@broker/tools/oauth/tokens';
import { oauthTokenFetcher } from '@broker/tools';
import { testLogger } from '../helpers/broker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubRequest } from '../helpers/stub-server';

/**
 * What a token manager does when it cannot, or need not, get a new token
 * (docs/oauth.md): a token that has not expired is used when the wait for
 * another process's refresh ends without it, and a client credentials connection refused
 * `invalid_grant` is a rejected client, not one to re-authorise. Real Redis,
 * the broker's own token endpoint client, a counting token endpoint on port 0.
 */
const prefix = uniquePrefix('oauth-fallbacks');
const keys = redisKeys(prefix);
const GOOD_SECRET = `good-${randomBytes(8).toString('hex')}`;
/** Mutable, like a rotated env: the provider reads it at each token request. */
const env: Record<string, string | undefined> = { BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CRM_CLIENT_SECRET: 'wrong-secret' };
const secrets = envSecretsProvider(env);

let endpoint: StubServer;
let redis: Redis;
let store: OAuthTokenStore;

/** client_credentials with the good secret: a token; a wrong one: invalid_grant, as some providers answer; refresh_token: 503. */
function answer(req: StubRequest) {
  const form = new URLSearchParams(req.body);
  if (form.get('grant_type') !== 'client_credentials') return { status: 503, body: { error: 'temporarily_unavailable' } };
  if (form.get('client_secret') !== GOOD_SECRET) return { status: 400, body: { error: 'invalid_grant', error_description: 'client not allowed this grant' } };
  return { status: 200, body: { access_token: `cc-at-${req.path}-${randomBytes(4).toString('hex')}`, token_type: 'Bearer', expires_in: 3600 } };
}

beforeAll(async () => {
  endpoint = await StubServer.start(answer);
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  store = new OAuthTokenStore(redis, keys, new TokenCipher(secrets));
});

afterAll(async () => {
  await endpoint?.close();
  redis?.disconnect();
  await dropPrefix(prefix);
});

/** A worker process's token manager; `waitMs` short, so a wait for another process's refresh ends quickly. */
const manager = (waitMs = 3000) => new OAuthTokenManager({ store, fetchToken: oauthTokenFetcher(secrets), logger: testLogger('oauth'), waitMs });

const refreshAuth = (): OAuth2Auth => ({
  type: 'oauth2',
  grant: 'authorization_code',
  tokenUrl: `${endpoint.url}/refresh`,
  clientId: 'crm-client',
  clientSecret: 'CRM_CLIENT_SECRET',
  tokenAuthMethod: 'client_secret_post',
});
const clientAuth = (path: string): OAuth2Auth => ({
  type: 'oauth2',
  grant: 'client_credentials',
  tokenUrl: `${endpoint.url}/${path}`,
  clientId: 'reports',
  clientSecret: 'CRM_CLIENT_SECRET',
  tokenAuthMethod: 'client_secret_post',
});

describe('a token inside the refresh margin, while another process holds the refresh lock', () => {
  it('is used once the wait for that process ends, not failed UNAVAILABLE, when it crashed holding the lock', async () => {
    // One minute left: inside the 5-minute margin, not expired.
    await store.importTokens('crm', 'held', { accessToken: 'at-current', refreshToken: 'rt-current', expiresAt: Date.now() + 60_000 });
    // The crashed holder's lock: it lives on for 30 s, longer than any waiter waits.
    await redis.set(keys.oauthLock('crm', 'held'), '424242', 'PX', 30_000);
    const before = endpoint.count();

    const token = await manager(300).accessToken({ integration: 'crm', connection: 'held', auth: refreshAuth() });
    expect(token).toBe('at-current');
    // No token request: the lock's holder is the one to refresh.
    expect(endpoint.count()).toBe(before);
    expect(await store.read('crm', 'held')).toMatchObject({ status: 'ok', tokens: { accessToken: 'at-current' } });
  });
});

describe('a client credentials connection answered invalid_grant', () => {
  it('is a rejected client, not needs_reauth: once the secret is fixed the next call requests a token and gets it', async () => {
    env.CRM_CLIENT_SECRET = 'wrong-secret';
    const worker = manager();
    const auth = clientAuth('cc-fixed');
    await expect(worker.accessToken({ integration: 'crm', connection: 'reports', auth })).rejects.toMatchObject({ name: 'OAuthError', kind: 'rejected' });
    expect((await store.read('crm', 'reports')).status).not.toBe('needs_reauth');

    env.CRM_CLIENT_SECRET = GOOD_SECRET;
    const token = await worker.accessToken({ integration: 'crm', connection: 'reports', auth });
    expect(token).toMatch(/^cc-at-\/cc-fixed-/);
    expect(endpoint.count((r) => r.path === '/cc-fixed')).toBe(2);
    expect(await store.read('crm', 'reports')).toMatchObject({ status: 'ok', tokens: { accessToken: token } });
  });

  it('already marked needs_reauth (before this was known), requests a token again and is connected', async () => {
    env.CRM_CLIENT_SECRET = GOOD_SECRET;
    // The mark an earlier invalid_grant left, fenced as a refresher writes it.
    const fence = await store.acquireLock('crm', 'marked', 30_000);
    expect(await store.markNeedsReauth('crm', 'marked', fence!, 'invalid_grant')).toBe(true);
    await store.releaseLock('crm', 'marked', fence!);
    expect((await store.read('crm', 'marked')).status).toBe('needs_reauth');

    const token = await manager().accessToken({ integration: 'crm', connection: 'marked', auth: clientAuth('cc-marked') });
    expect(token).toMatch(/^cc-at-\/cc-marked-/);
    expect(endpoint.count((r) => r.path === '/cc-marked')).toBe(1);
    expect(await store.read('crm', 'marked')).toMatchObject({ status: 'ok', tokens: { accessToken: token } });
  });
});
