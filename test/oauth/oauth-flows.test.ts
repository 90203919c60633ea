import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createRedis, type RedisClient } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { PublicJob } from '@broker/shared/jobs/schema';
import { createApi, type Api } from '@broker/api';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { capturingLogger, dumpPrefix, leaked } from './leak-check';
import { startMockOAuth, type MockOAuth } from './mock-oauth';

/**
 * OAuth 2.0 end to end: the api's connect/callback and token import, a worker
 * calling an upstream with the tokens, against a real OAuth 2.0 authorization
 * server (oauth2-mock-server, in its own process) and real Redis.
 */
const prefix = uniquePrefix('oauth-flows');
const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const AGENT = `agent-${randomBytes(8).toString('hex')}`;
const env: Record<string, string | undefined> = {
  BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  BROKER_ADMIN_TOKEN: ADMIN,
  AGENT_KEY: AGENT,
  CRM_CLIENT_SECRET: `crm-secret-${randomBytes(8).toString('hex')}`,
  SVC_CLIENT_SECRET: `svc-secret-${randomBytes(8).toString('hex')}`,
  CRM_API_KEY: 'crm-api-key-value',
};
const secrets = envSecretsProvider(env);

let mock: MockOAuth;
let upstream: StubServer;
let config: BrokerConfig;
let api: Api;
let server: Server;
let apiUrl: string;
let worker: WorkerApp;
let producer: RedisClient;
let subscriber: RedisClient;
let workerRedis: RedisClient;
let redis: Redis;
let tokens: OAuthTokenStore;
const apiLog = capturingLogger('api');
const workerLog = capturingLogger('worker');
/** Access tokens the upstream answers 401 to. */
const revoked = new Set<string>();

const bearerOf = (req: { headers: Record<string, string | string[] | undefined> }) => String(req.headers.authorization ?? '').replace(/^Bearer /, '');
const upstreamTokens = (id: string) => upstream.requests.filter((r) => r.path === `/contacts/${id}`).map(bearerOf);

beforeAll(async () => {
  mock = await startMockOAuth();
  upstream = await StubServer.start((req) => {
    const token = bearerOf(req);
    if (token === '' || revoked.has(token) || req.path === '/contacts/deny') return { status: 401, body: { error: 'invalid_token' } };
    return { status: 200, body: { id: req.path.split('/').pop() } };
  });
  const oauth2 = {
    type: 'oauth2',
    grant: 'authorization_code',
    tokenUrl: mock.tokenUrl,
    authorizeUrl: mock.authorizeUrl,
    clientId: 'crm-client',
    clientSecret: 'CRM_CLIENT_SECRET',
    scopes: ['contacts.read', 'contacts.write'],
  };
  config = parseConfig({
    agents: [{ id: 'agent', key: { secret: 'AGENT_KEY' }, scopes: ['tools:*'] }],
    admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } },
    integrations: {
      crm: {
        baseUrl: upstream.url,
        auth: oauth2,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        connections: {
          acme: {},
          rotating: {},
          denied: {},
          dead: {},
          svc: {
            auth: {
              type: 'oauth2',
              grant: 'client_credentials',
              tokenUrl: mock.tokenUrl,
              clientId: 'svc-client',
              clientSecret: 'SVC_CLIENT_SECRET',
              scopes: ['svc.read'],
              tokenAuthMethod: 'client_secret_basic',
            },
          },
          keyed: { auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'CRM_API_KEY' } },
        },
        tools: [
          {
            name: 'crm.getContact',
            method: 'GET',
            path: '/contacts/{id}',
            input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
        ],
      },
    },
  });
  producer = createRedis(REDIS_URL, 'producer');
  subscriber = createRedis(REDIS_URL, 'subscriber');
  workerRedis = createRedis(REDIS_URL, 'worker');
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  tokens = new OAuthTokenStore(redis, redisKeys(prefix), new TokenCipher(secrets));
  api = await createApi({ config, redis: producer, subscriber, secrets, logger: apiLog.logger, prefix });
  server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  worker = createWorkerApp({ config, redis: workerRedis, prefix, secrets, logger: workerLog.logger });
  await worker.ready();
}, 20_000);

afterAll(async () => {
  await worker?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await api?.close();
  for (const r of [producer, subscriber, workerRedis, redis]) r?.disconnect();
  await upstream?.close();
  await mock?.close();
  await dropPrefix(prefix);
});

const admin = { authorization: `Bearer ${ADMIN}` };

function putToken(integration: string, connection: string, body: unknown, headers: Record<string, string> = admin) {
  return fetch(`${apiUrl}/v1/integrations/${integration}/connections/${connection}/token`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function runJob(id: string, connection: string): Promise<PublicJob> {
  const submitted = await fetch(`${apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT}` },
    body: JSON.stringify({ tool: 'crm.getContact', input: { id }, connection }),
  });
  expect(submitted.status).toBe(202);
  const job = (await submitted.json()) as PublicJob;
  const res = await fetch(`${apiUrl}/v1/jobs/${job.id}?waitMs=10000`, { headers: { authorization: `Bearer ${AGENT}` } });
  return (await res.json()) as PublicJob;
}

async function expectProblem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  return body;
}

describe('authorization code with PKCE: connect → provider → callback', () => {
  it('redirects to the provider with S256 PKCE and a state, and stores the tokens the callback obtains', async () => {
    const connect = await fetch(`${apiUrl}/oauth/crm/connect?connection=acme`, { headers: admin, redirect: 'manual' });
    expect(connect.status).toBe(302);
    const authorize = new URL(connect.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(mock.authorizeUrl);
    const q = authorize.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('crm-client');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')!.length).toBeGreaterThanOrEqual(43);
    expect(q.get('scope')).toBe('contacts.read contacts.write');
    expect(q.get('redirect_uri')).toBe(`${apiUrl}/oauth/crm/callback`);

    // The user "logs in": the provider redirects back with a code and our state.
    const provider = await fetch(authorize, { redirect: 'manual' });
    expect(provider.status).toBe(302);
    const callbackUrl = new URL(provider.headers.get('location')!);
    expect(callbackUrl.pathname).toBe('/oauth/crm/callback');
    expect(callbackUrl.searchParams.get('state')).toBe(q.get('state'));

    const callback = await fetch(callbackUrl, { redirect: 'manual' });
    expect(callback.status).toBe(200);
    expect(await callback.json()).toEqual({ connected: true, integration: 'crm', connection: 'acme' });

    // The code was exchanged with the verifier (the server checks it against the challenge) and the client secret in the body.
    const exchanges = (await mock.requests()).filter((r) => r.grantType === 'authorization_code');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({
      status: 200,
      hasVerifier: true,
      clientAuth: 'post',
      clientId: 'crm-client',
      clientSecret: env.CRM_CLIENT_SECRET,
      redirectUri: `${apiUrl}/oauth/crm/callback`,
    });

    // The state works once.
    await expectProblem(await fetch(callbackUrl, { redirect: 'manual' }), 400, 'BAD_REQUEST');

    // A job on that connection calls the upstream with the access token the provider issued.
    const job = await runJob('acme-1', 'acme');
    expect(job.status).toBe('succeeded');
    expect(upstreamTokens('acme-1')).toEqual([exchanges[0]!.accessToken]);
  });

  it('refuses an unknown state, a provider error, and connects only oauth2 authorization-code connections', async () => {
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/callback?code=x&state=forged`), 400, 'BAD_REQUEST');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/callback?code=x`), 400, 'BAD_REQUEST');

    const connect = await fetch(`${apiUrl}/oauth/crm/connect?connection=acme`, { headers: admin, redirect: 'manual' });
    const state = new URL(connect.headers.get('location')!).searchParams.get('state')!;
    const denied = await expectProblem(await fetch(`${apiUrl}/oauth/crm/callback?error=access_denied&state=${state}`), 400, 'BAD_REQUEST');
    expect(denied.detail).toContain('access_denied');

    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=acme`, { redirect: 'manual' }), 401, 'UNAUTHENTICATED');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=acme`, { headers: { authorization: `Bearer ${AGENT}` }, redirect: 'manual' }), 401, 'UNAUTHENTICATED');
    await expectProblem(await fetch(`${apiUrl}/oauth/nope/connect`, { headers: admin, redirect: 'manual' }), 404, 'NOT_FOUND');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=nope`, { headers: admin, redirect: 'manual' }), 404, 'NOT_FOUND');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=svc`, { headers: admin, redirect: 'manual' }), 409, 'CONFLICT');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=keyed`, { headers: admin, redirect: 'manual' }), 409, 'CONFLICT');
    await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=${'x'.repeat(65)}`, { headers: admin, redirect: 'manual' }), 422, 'VALIDATION_ERROR');
  });
});

describe('PUT /v1/integrations/{name}/connections/{connection}/token', () => {
  it('validates the body with pointers and writes nothing on a bad one', async () => {
    const before = await tokens.state('crm', 'rotating');
    const cases: [unknown, string][] = [
      [{}, '/accessToken'],
      [{ accessToken: '' }, '/accessToken'],
      [{ accessToken: 'a', expiresIn: -5 }, '/expiresIn'],
      [{ accessToken: 'a', expiresIn: 1.5 }, '/expiresIn'],
      [{ accessToken: 'a', expiresAt: 'tomorrow' }, '/expiresAt'],
      [{ accessToken: 'a', expiresIn: 60, expiresAt: '2030-01-01T00:00:00Z' }, '/expiresAt'],
      [{ accessToken: 'a', scope: 'x' }, '/scope'],
      [[], ''],
    ];
    for (const [body, pointer] of cases) {
      const problem = await expectProblem(await putToken('crm', 'rotating', body), 422, 'VALIDATION_ERROR');
      expect((problem.errors as { pointer: string }[]).map((e) => e.pointer)).toContain(pointer);
    }
    await expectProblem(await putToken('crm', 'rotating', '{"accessToken":'), 400, 'INVALID_JSON');
    expect(await tokens.state('crm', 'rotating')).toEqual(before);
  });

  it('answers 401 without the admin token, 404 for unknown targets, 409 for a connection that is not oauth2', async () => {
    const body = { accessToken: 'abcdef' };
    await expectProblem(await putToken('crm', 'rotating', body, {}), 401, 'UNAUTHENTICATED');
    await expectProblem(await putToken('crm', 'rotating', body, { authorization: `Bearer ${AGENT}` }), 401, 'UNAUTHENTICATED');
    await expectProblem(await putToken('nope', 'default', body), 404, 'NOT_FOUND');
    await expectProblem(await putToken('crm', 'nope', body), 404, 'NOT_FOUND');
    await expectProblem(await putToken('crm', 'constructor', body), 404, 'NOT_FOUND');
    await expectProblem(await putToken('toString', 'default', body), 404, 'NOT_FOUND');
    await expectProblem(await putToken('crm', 'keyed', body), 409, 'CONFLICT');
    // Without the encryption key nothing is stored, and the operator is told why.
    const key = env.BROKER_ENCRYPTION_KEY;
    env.BROKER_ENCRYPTION_KEY = undefined;
    try {
      const noKey = await expectProblem(await putToken('crm', 'rotating', body), 500, 'INTERNAL');
      expect(noKey.detail).toContain('BROKER_ENCRYPTION_KEY');
      await expectProblem(await fetch(`${apiUrl}/oauth/crm/connect?connection=acme`, { headers: admin, redirect: 'manual' }), 500, 'INTERNAL');
    } finally {
      env.BROKER_ENCRYPTION_KEY = key;
    }
    const wrongMethod = await fetch(`${apiUrl}/v1/integrations/crm/connections/rotating/token`, { method: 'POST', headers: admin });
    expect(wrongMethod.status).toBe(405);
  });
});

describe('tokens in use', () => {
  it('client credentials: fetched on first use (HTTP Basic client auth, scopes), then reused', async () => {
    const first = await runJob('svc-1', 'svc');
    const second = await runJob('svc-2', 'svc');
    expect([first.status, second.status]).toEqual(['succeeded', 'succeeded']);
    const grants = (await mock.requests()).filter((r) => r.grantType === 'client_credentials');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ status: 200, clientAuth: 'basic', basic: `svc-client:${env.SVC_CLIENT_SECRET}`, scope: 'svc.read' });
    expect(upstreamTokens('svc-1')).toEqual([grants[0]!.accessToken]);
    expect(upstreamTokens('svc-2')).toEqual([grants[0]!.accessToken]);
  });

  it('refreshes an expiring imported token and persists the rotated refresh token; a 401 refreshes once more and retries', async () => {
    const seed = { accessToken: `seed-at-${randomBytes(6).toString('hex')}`, refreshToken: `seed-rt-${randomBytes(6).toString('hex')}`, expiresIn: 60 };
    await mock.control({ validRefreshTokens: [seed.refreshToken] });
    expect((await putToken('crm', 'rotating', seed)).status).toBe(204);

    // Expires in 60 s, inside the 5-minute margin: the first job refreshes before calling.
    const job1 = await runJob('rot-1', 'rotating');
    expect(job1.status).toBe('succeeded');
    let refreshes = (await mock.requests()).filter((r) => r.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ status: 200, presentedRefreshToken: seed.refreshToken });
    const second = refreshes[0]!;
    expect(upstreamTokens('rot-1')).toEqual([second.accessToken]);

    // The upstream revokes that token: the job is answered 401, refreshes once (with the rotated
    // refresh token: the seed one is spent) and succeeds on the retry, within one attempt.
    revoked.add(second.accessToken!);
    const job2 = await runJob('rot-2', 'rotating');
    expect(job2).toMatchObject({ status: 'succeeded', attempts: 1 });
    refreshes = (await mock.requests()).filter((r) => r.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(2);
    expect(refreshes[1]).toMatchObject({ status: 200, presentedRefreshToken: second.refreshToken });
    expect(upstreamTokens('rot-2')).toEqual([second.accessToken, refreshes[1]!.accessToken]);
    expect((await tokens.read('crm', 'rotating')).tokens).toMatchObject({
      accessToken: refreshes[1]!.accessToken,
      refreshToken: refreshes[1]!.refreshToken,
    });
  });

  it('a second 401 after the refresh fails AUTHENTICATION_FAILED, after exactly one refresh', async () => {
    await mock.control({ validRefreshTokens: ['denied-rt-123456'] });
    expect((await putToken('crm', 'denied', { accessToken: 'denied-at-123456', refreshToken: 'denied-rt-123456', expiresIn: 3600 })).status).toBe(204);
    const before = (await mock.requests()).length;
    const job = await runJob('deny', 'denied');
    expect(job).toMatchObject({ status: 'failed', error: { code: 'AUTHENTICATION_FAILED', retryable: false, upstreamStatus: 401 } });
    expect(upstreamTokens('deny')).toHaveLength(2);
    const after = (await mock.requests()).slice(before);
    expect(after.map((r) => r.grantType)).toEqual(['refresh_token']);
  });

  it('invalid_grant marks the connection needs_reauth and fails its jobs AUTHENTICATION_FAILED until tokens are imported again', async () => {
    const seed = { accessToken: 'dead-at-abcdef', refreshToken: 'dead-rt-abcdef', expiresIn: 30 };
    expect((await putToken('crm', 'dead', seed)).status).toBe(204);
    await mock.control({ failRefresh: 'invalid_grant' });
    try {
      const job = await runJob('dead-1', 'dead');
      expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'AUTHENTICATION_FAILED', retryable: false } });
      expect(job.error!.message).toMatch(/re-authoris/);
      expect(job.error!.message).toContain('invalid_grant');
      // The provider echoed the refused refresh token in its description; the broker did not repeat it.
      expect(job.error!.message).not.toContain(seed.refreshToken);
      expect(upstreamTokens('dead-1')).toEqual([]);
      expect(await tokens.state('crm', 'dead')).toMatchObject({ status: 'needs_reauth', hasTokens: false });

      // GET /v1/integrations reports it (the api reads the state from the token store).
      const listed = await fetch(`${apiUrl}/v1/integrations`, { headers: admin });
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as { integrations: { name: string; connections: { name: string; state: string }[] }[] };
      const states = Object.fromEntries(body.integrations.find((i) => i.name === 'crm')!.connections.map((c) => [c.name, c.state]));
      expect(states).toEqual({ default: 'missing', acme: 'ok', rotating: 'ok', denied: 'ok', dead: 'needs_reauth', svc: 'ok', keyed: 'ok' });

      const refreshesBefore = (await mock.requests()).filter((r) => r.grantType === 'refresh_token').length;
      const again = await runJob('dead-2', 'dead');
      expect(again.error?.code).toBe('AUTHENTICATION_FAILED');
      // Marked: the provider is not asked again.
      expect((await mock.requests()).filter((r) => r.grantType === 'refresh_token')).toHaveLength(refreshesBefore);
    } finally {
      await mock.control({ failRefresh: null });
    }
    expect((await putToken('crm', 'dead', { accessToken: 'dead-at-revived', expiresIn: 3600 })).status).toBe(204);
    expect((await runJob('dead-3', 'dead')).status).toBe('succeeded');
    expect(upstreamTokens('dead-3')).toEqual(['dead-at-revived']);
  });
});

describe('secrecy', () => {
  it('never writes a token, code or client secret in plain text to Redis, the logs or job results', async () => {
    const issued = (await mock.requests()).flatMap((r) => [r.accessToken, r.refreshToken, r.presentedRefreshToken]);
    const secretsToFind = [
      ...issued,
      'seed-at',
      'denied-at-123456',
      'denied-rt-123456',
      'dead-at-abcdef',
      'dead-rt-abcdef',
      'dead-at-revived',
      env.CRM_CLIENT_SECRET,
      env.SVC_CLIENT_SECRET,
      env.BROKER_ENCRYPTION_KEY,
    ];
    expect(issued.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    const stored = await dumpPrefix(redis, prefix);
    expect(stored).toContain(':oauth:{oauth:crm:acme}'); // the scan does see the token hashes
    expect(leaked(stored, secretsToFind)).toEqual([]);
    expect(leaked(apiLog.text() + workerLog.text(), secretsToFind)).toEqual([]);
    expect(workerLog.text()).toContain('OAuth token refreshed');
  });
});
