import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createRedis, type RedisClient } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { TERMINAL_STATUSES, type PublicJob } from '@broker/shared/jobs/schema';
import { createApi, type Api } from '@broker/api';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { KEYS } from '../api/harness';
import { capturingLogger, dumpPrefix } from '../oauth/leak-check';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { githubEvent, shopifyEvent, standardEvent, stripeEvent, type Signed } from '../webhooks/signers';
import { ADMIN_TOKEN, AGENT_KEYS, OPS_KEY, securityConfig, securitySecrets } from './harness';

/*
 * Secrets never leave the secrets provider: a workload touching every path
 * that handles one (jobs that succeed and fail, an upstream that echoes the
 * credential it got, webhooks of four kinds, triggers, callbacks, token import,
 * an OAuth refresh and a refused one, the authorization-code flow, MCP), then
 * every Redis key under the prefix (strings, hashes, lists, sets, sorted sets,
 * BullMQ's streams), every log line of the api and the worker, and every API
 * answer (headers and body) are searched for each planted secret in several
 * encodings. Expected hits: 0.
 */

const prefix = uniquePrefix('secrets');
const env: Record<string, string | undefined> = {
  AGENT_A_KEY: KEYS.a,
  AGENT_B_KEY: `${KEYS.bOld},${KEYS.bNew}`,
  AGENT_C_KEY: KEYS.c,
  ...securitySecrets(),
};
const token = (label: string) => `${label}-${randomBytes(16).toString('hex')}`;
const TOKENS = {
  access1: token('at1'),
  refresh1: token('rt1'),
  access2: token('at2'),
  refresh2: token('rt2'),
  access3: token('at3'),
  refresh3: token('rt3'),
  revokedAccess: token('at-revoked'),
  revokedRefresh: token('rt-revoked'),
  code: token('code'),
};

let upstream: StubServer;
let api: Api;
let server: Server;
let worker: WorkerApp;
let producer: RedisClient;
let subscriber: RedisClient;
let workerRedis: RedisClient;
let redis: Redis;
const apiLog = capturingLogger('api');
const workerLog = capturingLogger('worker');
/** Every answer the API gave during the workload: status, headers and body. */
const answers: string[] = [];

async function call(req: request.Test): Promise<request.Response> {
  const res = await req;
  answers.push(`${res.status} ${JSON.stringify(res.headers)}\n${res.text}`);
  return res;
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

beforeAll(async () => {
  upstream = await StubServer.start((req) => {
    const auth = String(req.headers.authorization ?? '');
    if (req.path === '/oauth/token') {
      const form = new URLSearchParams(req.body);
      const grant = form.get('grant_type');
      if (grant === 'refresh_token' && form.get('refresh_token') === TOKENS.refresh1) {
        return { body: { access_token: TOKENS.access2, refresh_token: TOKENS.refresh2, expires_in: 3600, token_type: 'Bearer' } };
      }
      if (grant === 'authorization_code' && form.get('code') === TOKENS.code) {
        return { body: { access_token: TOKENS.access3, refresh_token: TOKENS.refresh3, expires_in: 3600, token_type: 'Bearer' } };
      }
      // A provider that quotes what it was sent, secrets included.
      return {
        status: 400,
        body: { error: 'invalid_grant', error_description: `refresh token ${form.get('refresh_token')} revoked (client_secret=${form.get('client_secret')})` },
      };
    }
    if (req.path.startsWith('/crm/contacts/')) {
      if (auth !== `Bearer ${TOKENS.access2}` && auth !== `Bearer ${TOKENS.access3}`) return { status: 401, body: { error: `token ${auth} is not valid` } };
      return { body: { id: req.path.split('/').pop() } };
    }
    if (req.path === '/contacts/fail') return { status: 500, body: { error: 'boom' } };
    if (req.path === '/contacts/denied') return { status: 401, body: { error: `key ${auth} refused` } };
    // Error pages that echo the request are common; the credential must not ride back into the job.
    if (req.path === '/contacts/echo') return { status: 400, body: { error: 'bad request', headers: req.headers } };
    if (req.path === '/contacts/echo-422') return { status: 422, raw: `you sent ${auth}` };
    if (req.path.startsWith('/contacts/')) return { body: { id: req.path.split('/').pop() } };
    if (req.path === '/orders') return { status: 201, body: { orderId: 'ord_1' } };
    return { body: {} };
  });
  const config = securityConfig(upstream.url, {
    // Limits on, so their keys are in the keyspace that is searched.
    apiRateLimit: { max: 10_000, windowMs: 60_000 },
    agents: securityConfig().agents.map((a) => (a.id === 'agent-c' ? { ...a, dailyJobCaps: { '*': 1000 } } : a)),
  });
  producer = createRedis(REDIS_URL, 'producer');
  subscriber = createRedis(REDIS_URL, 'subscriber');
  workerRedis = createRedis(REDIS_URL, 'worker');
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const secrets = envSecretsProvider(env);
  api = await createApi({ config, redis: producer, subscriber, secrets, logger: apiLog.logger, prefix });
  server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
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
  await dropPrefix(prefix);
});

async function settled(id: string): Promise<PublicJob> {
  return waitFor(
    async () => {
      const res = await call(request(server).get(`/v1/jobs/${id}?waitMs=2000`).set(bearer(AGENT_KEYS.c)));
      return TERMINAL_STATUSES.has(res.body.status) ? (res.body as PublicJob) : undefined;
    },
    { timeoutMs: 15_000, what: `job ${id}` },
  );
}

async function submit(body: object, headers: Record<string, string> = {}): Promise<string> {
  const res = await call(request(server).post('/v1/jobs').set(bearer(AGENT_KEYS.c)).set(headers).send(body));
  expect([200, 202]).toContain(res.status);
  return res.body.id as string;
}

/** The forms a secret could take on its way out: as is, base64, base64url, hex, URL-encoded, and a whsec_ secret's key part. */
function encodings(secret: string): string[] {
  const forms = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('hex'), encodeURIComponent(secret)];
  if (secret.startsWith('whsec_')) forms.push(secret.slice('whsec_'.length));
  return [...new Set(forms)].filter((f) => f.length >= 8);
}

describe('secrets never appear in Redis, logs or answers', () => {
  it('runs a workload over every path that handles a secret', async () => {
    const admin = bearer(ADMIN_TOKEN);
    // Token import: one connection that refreshes, one whose refresh token the provider revoked.
    await call(
      request(server).put('/v1/integrations/crm/connections/default/token').set(admin).send({ accessToken: TOKENS.access1, refreshToken: TOKENS.refresh1, expiresIn: 60 }),
    ).then((r) => expect(r.status).toBe(204));
    await call(
      request(server).put('/v1/integrations/crm/connections/acme/token').set(admin).send({ accessToken: TOKENS.revokedAccess, refreshToken: TOKENS.revokedRefresh, expiresIn: 1 }),
    ).then((r) => expect(r.status).toBe(204));

    const cb = `${upstream.url}/cb`;
    const ids = {
      refreshed: await submit({ tool: 'crm.getContact', input: { id: 'p1' }, callbackUrl: cb }),
      revoked: await submit({ tool: 'crm.getContact', input: { id: 'p2' }, connection: 'acme', callbackUrl: cb }),
      ok: await submit({ tool: 'demo.getContact', input: { id: 'c1' }, callbackUrl: cb }),
      fail: await submit({ tool: 'demo.getContact', input: { id: 'fail' }, callbackUrl: cb }),
      denied: await submit({ tool: 'demo.getContact', input: { id: 'denied' }, callbackUrl: cb }),
      echo: await submit({ tool: 'demo.getContact', input: { id: 'echo' }, callbackUrl: cb }),
      echo422: await submit({ tool: 'demo.getContact', input: { id: 'echo-422' } }),
      order: await submit({ tool: 'demo.createOrder', input: { sku: 's', qty: 1 } }, { 'Idempotency-Key': 'order-secret-test' }),
    };
    expect(await submit({ tool: 'demo.createOrder', input: { sku: 's', qty: 1 } }, { 'Idempotency-Key': 'order-secret-test' })).toBe(ids.order);

    const outcomes = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await settled(id)] as const)));
    expect(outcomes.refreshed!.status).toBe('succeeded');
    expect(outcomes.revoked!.error?.code).toBe('AUTHENTICATION_FAILED');
    expect(outcomes.ok!.status).toBe('succeeded');
    expect(outcomes.fail!.error?.code).toBe('UPSTREAM_ERROR');
    expect(outcomes.denied!.error?.code).toBe('AUTHENTICATION_FAILED');
    expect(outcomes.echo!.error?.code).toBe('VALIDATION_ERROR');
    expect(outcomes.echo422!.error?.code).toBe('VALIDATION_ERROR');
    // The upstream did quote the key back; the broker blanked it.
    expect(outcomes.echo422!.error?.message).toBe('upstream answered 422: you sent [redacted]');
    expect(outcomes.denied!.error?.message).toContain('key [redacted] refused');
    expect(outcomes.order!.status).toBe('succeeded');

    // Webhooks of every type, one carrying a credential a proxy added; the event read back and replayed.
    const hooks: Array<[string, Signed]> = [
      ['stripe', stripeEvent({ id: 'evt_secret_1' })],
      ['github', githubEvent({ delivery: 'd-secret-1' })],
      ['shopify', shopifyEvent({ webhookId: 'w-secret-1' })],
      ['acme', standardEvent({ id: 'msg_secret_1' })],
    ];
    for (const [source, signed] of hooks) {
      const res = await call(request(server).post(`/hooks/${source}`).set(signed.headers).set('Authorization', `Bearer ${ADMIN_TOKEN}`).send(signed.body));
      expect(res.status).toBe(200);
    }
    await call(request(server).get('/v1/events/stripe:evt_secret_1').set(admin)).then((r) => expect(r.status).toBe(200));
    await call(request(server).post('/v1/events/github:d-secret-1/replay').set(bearer(OPS_KEY))).then((r) => expect(r.status).toBe(202));

    // The authorization-code flow, end to end against the stub provider.
    const connect = await call(request(server).get('/oauth/crm/connect?connection=acme').set(admin));
    expect(connect.status).toBe(302);
    const state = new URL(connect.headers.location!).searchParams.get('state')!;
    const callback = await call(request(server).get(`/oauth/crm/callback?state=${encodeURIComponent(state)}&code=${TOKENS.code}`));
    expect(callback.status).toBe(200);
    const afterConnect = await submit({ tool: 'crm.getContact', input: { id: 'p3' }, connection: 'acme' });
    expect((await settled(afterConnect)).status).toBe('succeeded');

    // MCP, operator reads, and refused credentials that come close to real ones.
    const mcp = await call(
      request(server)
        .post('/mcp')
        .set(bearer(AGENT_KEYS.c))
        .set('Accept', 'application/json, text/event-stream')
        .send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'demo_getContact', arguments: { id: 'echo' }, _meta: { 'broker/waitMs': 10_000 } } }),
    );
    expect(mcp.status).toBe(200);
    await call(request(server).get('/v1/integrations').set(admin)).then((r) => expect(r.status).toBe(200));
    await call(request(server).get('/metrics').set(admin)).then((r) => expect(r.status).toBe(200));
    await call(
      request(server)
        .get('/admin/queues/api/queues')
        .set('Authorization', `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}`),
    ).then((r) => expect(r.status).toBe(200));
    for (const near of [`${AGENT_KEYS.a}x`, AGENT_KEYS.a.slice(0, -1), `${ADMIN_TOKEN}0`]) {
      await call(request(server).get('/v1/tools').set(bearer(near))).then((r) => expect(r.status).toBe(401));
    }
    await call(request(server).get(`/v1/tools?key=${AGENT_KEYS.a}`).set(bearer(AGENT_KEYS.a))).then((r) => expect(r.status).toBe(200));

    // Every callback and trigger went out (the worker signed them with the secrets under test).
    await waitFor(() => upstream.count((r) => r.path === '/cb') >= 6, { timeoutMs: 15_000, what: 'the callbacks' });
    await waitFor(() => upstream.count((r) => r.path === '/hooks/agent') >= 5, { timeoutMs: 15_000, what: 'the trigger deliveries' });
    expect(upstream.count((r) => r.path === '/oauth/token' && r.body.includes('grant_type=refresh_token'))).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('finds none of the planted secrets anywhere', async () => {
    // Sent on the wire where they belong (the upstream saw them), so the search below could find them if they leaked.
    expect(upstream.requests.some((r) => r.headers.authorization === `Bearer ${env.DEMO_API_KEY}`)).toBe(true);
    expect(upstream.requests.some((r) => r.body.includes(String(env.CRM_CLIENT_SECRET)))).toBe(true);

    const planted: Record<string, string> = {
      'agent key a': AGENT_KEYS.a,
      'agent key b (old)': KEYS.bOld,
      'agent key b (new)': KEYS.bNew,
      'agent key c': AGENT_KEYS.c,
      'agent key ops': OPS_KEY,
      ...Object.fromEntries(
        Object.entries(env)
          .filter(([name]) => !name.startsWith('AGENT_'))
          .map(([name, value]) => [name, String(value)]),
      ),
      ...Object.fromEntries(Object.entries(TOKENS).map(([name, value]) => [`token ${name}`, value])),
    };
    const places = {
      redis: await dumpPrefix(redis, prefix),
      'api log': apiLog.text(),
      'worker log': workerLog.text(),
      'api answers': answers.join('\n'),
    };
    // The search is live: the logs and Redis hold what the workload did.
    expect(places.redis).toContain('stripe:evt_secret_1');
    expect(places['worker log']).toContain('demo.getContact');

    const hits: string[] = [];
    for (const [place, haystack] of Object.entries(places)) {
      for (const [name, secret] of Object.entries(planted)) {
        for (const form of encodings(secret)) {
          if (haystack.includes(form))
            hits.push(
              `${name} in ${place}${form === secret ? '' : ' (encoded)'}: …${haystack.slice(Math.max(0, haystack.indexOf(form) - 120), haystack.indexOf(form) + form.length + 40)}…`,
            );
        }
      }
    }
    console.log(
      `secrets scan: ${Object.keys(planted).length} secrets × ${Object.keys(places).length} places (${places.redis.length} bytes of Redis, ${places['api log'].length + places['worker log'].length} bytes of logs, ${answers.length} answers): ${hits.length} hits`,
    );
    expect(hits).toEqual([]);
  });

  it('stores no agent key at all: agents are secret names resolved at each request', async () => {
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.some((k) => /agent-key|:agents?:/.test(k))).toBe(false);
  });
});
