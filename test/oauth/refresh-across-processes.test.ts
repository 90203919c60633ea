import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import { JobSubmitter } from '../helpers/broker';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { dumpPrefix, leaked } from './leak-check';
import { startMockOAuth, type MockOAuth } from './mock-oauth';

/**
 * 50 jobs on an expiring token, taken by two worker processes at once, cause
 * exactly one refresh: the refresh lock lives in Redis, and the process that
 * does not hold it waits for the other's write. The provider is slow (300 ms
 * per token request) so both processes meet the expiring token together.
 */
const prefix = uniquePrefix('oauth-procs');
const secretEnv = {
  BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  CRM_CLIENT_SECRET: `crm-secret-${randomBytes(8).toString('hex')}`,
};
let mock: MockOAuth;
let upstream: StubServer;
let redis: Redis;
let jobs: JobSubmitter;
const processes: RunningProcess[] = [];

function rawConfig() {
  return {
    integrations: {
      crm: {
        baseUrl: upstream.url,
        auth: { type: 'oauth2', grant: 'authorization_code', tokenUrl: mock.tokenUrl, clientId: 'crm-client', clientSecret: 'CRM_CLIENT_SECRET' },
        concurrency: 25,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        tools: [{ name: 'crm.getContact', method: 'GET', path: '/contacts/{id}', input: { type: 'object' } }],
      },
    },
  };
}

beforeAll(async () => {
  mock = await startMockOAuth();
  upstream = await StubServer.start((req) => (String(req.headers.authorization ?? '').startsWith('Bearer ') ? { status: 200, body: { id: req.path } } : { status: 401 }));
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  jobs = new JobSubmitter(redis, prefix, parseConfig(rawConfig()));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => stopApp(p)));
  await jobs?.close();
  await upstream?.close();
  await mock?.close();
  redis?.disconnect();
  await dropPrefix(prefix);
});

it('refreshes once for 50 concurrent jobs across two worker processes, and both use the new token', async () => {
  const seed = { accessToken: `seed-at-${randomBytes(8).toString('hex')}`, refreshToken: `seed-rt-${randomBytes(8).toString('hex')}` };
  const store = new OAuthTokenStore(redis, redisKeys(prefix), new TokenCipher(envSecretsProvider(secretEnv)));
  // Two minutes left: inside the 5-minute margin, so every job wants a refresh.
  await store.importTokens('crm', 'default', { ...seed, expiresAt: Date.now() + 120_000 });
  await mock.control({ validRefreshTokens: [seed.refreshToken], delayMs: 300 });

  const env = { BROKER_CONFIG: writeConfigFile(rawConfig()), BROKER_REDIS_PREFIX: prefix, ...secretEnv };
  processes.push(...(await Promise.all([startApp('worker', env, 'worker ready'), startApp('worker', env, 'worker ready')])));

  const ids = await Promise.all(Array.from({ length: 50 }, (_, n) => jobs.submit('crm.getContact', { id: `c${n}` })));
  const finished = await Promise.all(ids.map((id) => jobs.settled(id, 15_000)));
  expect(finished.map((j) => j.status)).toEqual(Array(50).fill('succeeded'));

  const refreshes = (await mock.requests()).filter((r) => r.grantType === 'refresh_token');
  expect(refreshes).toHaveLength(1);
  expect(refreshes[0]).toMatchObject({ status: 200, presentedRefreshToken: seed.refreshToken });
  const used = upstream.requests.map((r) => String(r.headers.authorization).replace(/^Bearer /, ''));
  expect(used).toHaveLength(50);
  expect(new Set(used)).toEqual(new Set([refreshes[0]!.accessToken]));
  expect((await store.read('crm', 'default')).tokens?.refreshToken).toBe(refreshes[0]!.refreshToken);

  await Promise.all(processes.map((p) => stopApp(p)));
  const outputs = processes.map((p) => p.output());
  // Both processes ran jobs; exactly one of them refreshed.
  for (const out of outputs) expect(out).toContain('"integration":"crm"');
  expect(outputs.join('').match(/OAuth token refreshed/g)).toHaveLength(1);

  const secrets = [seed.accessToken, seed.refreshToken, refreshes[0]!.accessToken, refreshes[0]!.refreshToken, secretEnv.CRM_CLIENT_SECRET];
  expect(leaked(outputs.join('\n'), secrets)).toEqual([]);
  expect(leaked(await dumpPrefix(redis, prefix), secrets)).toEqual([]);
}, 40_000);
