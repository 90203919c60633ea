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
import { waitFor } from '../helpers/wait-for';
import { startMockOAuth, type MockOAuth } from './mock-oauth';

/**
 * Issue "No write applied twice": a refresh token rotated while the refresh
 * lock lapsed is never thrown away. The provider is a real OAuth server
 * (oauth2-mock-server in its own process) whose refresh tokens work once and
 * whose answers take longer than the lock lives; the broker's own token
 * endpoint client calls it; the store is real Redis.
 */
const prefix = uniquePrefix('oauth-lapse');
const keys = redisKeys(prefix);
const env = { BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CRM_CLIENT_SECRET: 'crm-secret' };
const secrets = envSecretsProvider(env);
const cipher = new TokenCipher(secrets);
/** The lock lives 150 ms; the provider answers after 500 ms. */
const LOCK_TTL_MS = 150;
const PROVIDER_DELAY_MS = 500;

let mock: MockOAuth;
let redis: Redis;
let other: Redis;
let store: OAuthTokenStore;
let auth: OAuth2Auth;

beforeAll(async () => {
  mock = await startMockOAuth();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  other = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  store = new OAuthTokenStore(redis, keys, cipher);
  auth = { type: 'oauth2', grant: 'authorization_code', tokenUrl: mock.tokenUrl, clientId: 'crm-client', clientSecret: 'CRM_CLIENT_SECRET', tokenAuthMethod: 'client_secret_post' };
});

afterAll(async () => {
  await mock?.close();
  redis?.disconnect();
  other?.disconnect();
  await dropPrefix(prefix);
});

/** A worker process's token manager: its own Redis connection, the real token endpoint client, a short lock. */
function manager(connection: Redis = redis): OAuthTokenManager {
  return new OAuthTokenManager({
    store: new OAuthTokenStore(connection, keys, cipher),
    fetchToken: oauthTokenFetcher(secrets),
    logger: testLogger('oauth'),
    lockTtlMs: LOCK_TTL_MS,
  });
}

/** Seeds a connection whose access token is inside the refresh margin, with a refresh token the provider accepts once. */
async function seed(connection: string): Promise<string> {
  const refreshToken = `seed-rt-${randomBytes(8).toString('hex')}`;
  await store.importTokens('crm', connection, { accessToken: `seed-at-${connection}`, refreshToken, expiresAt: Date.now() + 60_000 });
  await mock.control({ validRefreshTokens: [refreshToken], delayMs: PROVIDER_DELAY_MS });
  return refreshToken;
}

async function refreshesSince(count: number) {
  return (await mock.requests()).slice(count).filter((r) => r.grantType === 'refresh_token');
}

it('stores a set the provider answered after the lock lapsed, and the next refresh uses its rotated refresh token', async () => {
  const before = (await mock.requests()).length;
  const seeded = await seed('slow');
  const worker = manager();

  const first = await worker.accessToken({ integration: 'crm', connection: 'slow', auth });
  const [rotation] = await refreshesSince(before);
  expect(rotation).toMatchObject({ status: 200, presentedRefreshToken: seeded });
  expect(first).toBe(rotation!.accessToken);
  // The lock had lapsed long before the answer; the rotated refresh token is stored all the same.
  expect(await store.isLocked('crm', 'slow')).toBe(false);
  expect(await store.read('crm', 'slow')).toMatchObject({ status: 'ok', tokens: { accessToken: rotation!.accessToken, refreshToken: rotation!.refreshToken } });

  // The next refresh (the upstream refused the token) spends the rotated refresh token: no invalid_grant.
  await mock.control({ delayMs: 0 });
  const second = await worker.accessToken({ integration: 'crm', connection: 'slow', auth, forceRefresh: true, rejectedToken: first });
  const refreshes = await refreshesSince(before);
  expect(refreshes.map((r) => [r.status, r.error])).toEqual([
    [200, undefined],
    [200, undefined],
  ]);
  expect(refreshes[1]!.presentedRefreshToken).toBe(rotation!.refreshToken);
  expect(second).toBe(refreshes[1]!.accessToken);
  expect(await store.read('crm', 'slow')).toMatchObject({ status: 'ok', tokens: { refreshToken: refreshes[1]!.refreshToken } });
});

it('a second process that took the lapsed lock and was refused the spent refresh token uses the rotated set; the connection stays connected', async () => {
  const before = (await mock.requests()).length;
  const seeded = await seed('raced');
  const [first, second] = [manager(), manager(other)];

  const firstToken = first.accessToken({ integration: 'crm', connection: 'raced', auth });
  // The first process's request is at the provider and its lock has lapsed: the second process refreshes too,
  // with the same refresh token, and its request waits behind the first at the provider.
  await waitFor(async () => store.isLocked('crm', 'raced'), { intervalMs: 5, what: 'the first refresh to take the lock' });
  await waitFor(async () => !(await store.isLocked('crm', 'raced')), { intervalMs: 5, what: 'the lock to lapse' });
  const secondToken = second.accessToken({ integration: 'crm', connection: 'raced', auth });

  const [a, b] = await Promise.all([firstToken, secondToken]);
  const refreshes = await refreshesSince(before);
  expect(refreshes.map((r) => [r.status, r.error, r.presentedRefreshToken])).toEqual([
    [200, undefined, seeded],
    [400, 'invalid_grant', seeded],
  ]);
  // Both use the rotated set; the refusal of the spent token did not mark the connection.
  expect([a, b]).toEqual([refreshes[0]!.accessToken, refreshes[0]!.accessToken]);
  expect(await store.read('crm', 'raced')).toMatchObject({ status: 'ok', tokens: { refreshToken: refreshes[0]!.refreshToken } });

  // And the rotated refresh token works.
  await mock.control({ delayMs: 0 });
  await second.accessToken({ integration: 'crm', connection: 'raced', auth, forceRefresh: true, rejectedToken: a });
  const last = (await refreshesSince(before))[2];
  expect(last).toMatchObject({ status: 200, presentedRefreshToken: refreshes[0]!.refreshToken });
});
