import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { connectionState } from '@broker/tools/secrets/connection-state';
import { createLogger } from '@broker/shared/logger';
import { createMetrics } from '@broker/shared/metrics';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { listIntegrationsResponseSchema, type IntegrationStatus } from '@broker/shared/integrations/integration-status';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { errorFromResponse } from '@broker/tools';
import { CircuitBreaker } from '@broker/worker';
import { REDIS_URL } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { bearer, KEYS, startApi, type Harness } from './harness';

/** `GET /v1/integrations` (docs/integrations.md#integrations-get-v1integrations): what operators see of each integration. */
const ADMIN = 'admin-token-for-integrations';
const DEMO_KEY_VALUE = 'sk-demo-never-shown';
const RECOVERY_MS = 300;

const config = parseConfig({
  agents: [
    { id: 'ops', key: { secret: 'AGENT_A_KEY' }, scopes: ['integrations:read'] },
    { id: 'plain', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:*'] },
  ],
  admin: { token: { secret: 'ADMIN_TOKEN' } },
  integrations: {
    demo: {
      baseUrl: 'http://127.0.0.1:9',
      auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'DEMO_API_KEY' },
      rateLimit: { max: 20, durationMs: 1000, perConnection: { max: 5, durationMs: 1000 } },
      circuitBreaker: { failureThreshold: 2, recoveryTimeoutMs: RECOVERY_MS },
      apiVersion: { header: 'Demo-Version', value: '2025-01-01' },
      connections: {
        eu: { auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'DEMO_EU_KEY' }, rateLimit: { max: 2, durationMs: 1000 } },
        shared: {},
      },
      tools: [
        { name: 'demo.getContact', method: 'GET', path: '/contacts/{id}' },
        { name: 'demo.createOrder', method: 'POST', path: '/orders', idempotent: true },
      ],
    },
    crm: {
      baseUrl: 'http://127.0.0.1:9',
      auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', clientSecret: 'CRM_CLIENT_SECRET' },
      tools: [{ name: 'crm.find', method: 'GET', path: '/find' }],
    },
    open: {
      baseUrl: 'http://127.0.0.1:9',
      tools: [{ name: 'open.ping', method: 'GET', path: '/ping' }],
    },
  },
});

let h: Harness;

beforeAll(async () => {
  h = await startApi('api-integrations', { config });
  h.env.ADMIN_TOKEN = ADMIN;
  h.env.DEMO_API_KEY = DEMO_KEY_VALUE;
});

afterAll(async () => {
  await h.close();
});

const list = (token: string) => request(h.server).get('/v1/integrations').set(bearer(token));
const byName = (res: request.Response, name: string) => (res.body.integrations as IntegrationStatus[]).find((i) => i.name === name) as IntegrationStatus;

it('answers the contract shape for every integration, and never a secret', async () => {
  const res = await list(ADMIN).expect(200);
  listIntegrationsResponseSchema.parse(res.body);
  expect(res.body).toEqual({
    integrations: [
      {
        name: 'demo',
        tools: ['demo.createOrder', 'demo.getContact'],
        apiVersion: '2025-01-01',
        auth: { type: 'apiKey' },
        rateLimit: { max: 20, durationMs: 1000, perConnection: { max: 5, durationMs: 1000 } },
        circuitBreaker: { state: 'closed' },
        queue: { waiting: 0, active: 0, delayed: 0, failed: 0 },
        connections: [
          { name: 'default', state: 'ok' },
          { name: 'eu', state: 'missing' },
          { name: 'shared', state: 'ok' },
        ],
        deprecations: [],
      },
      {
        name: 'crm',
        tools: ['crm.find'],
        apiVersion: null,
        auth: { type: 'oauth2' },
        rateLimit: null,
        circuitBreaker: { state: 'closed' },
        queue: { waiting: 0, active: 0, delayed: 0, failed: 0 },
        // No token stored, and no client secret to fetch one with: nothing to send.
        connections: [{ name: 'default', state: 'missing' }],
        deprecations: [],
      },
      {
        name: 'open',
        tools: ['open.ping'],
        apiVersion: null,
        auth: { type: 'none' },
        rateLimit: null,
        circuitBreaker: { state: 'closed' },
        queue: { waiting: 0, active: 0, delayed: 0, failed: 0 },
        connections: [{ name: 'default', state: 'ok' }],
        deprecations: [],
      },
    ],
  });
  expect(res.text).not.toContain(DEMO_KEY_VALUE);
});

it('reads secrets at each request: a connection whose secret appears becomes ok, one whose secret goes away missing', async () => {
  h.env.DEMO_EU_KEY = 'sk-eu';
  h.env.DEMO_API_KEY = '';
  try {
    const res = await list(ADMIN).expect(200);
    expect(byName(res, 'demo').connections).toEqual([
      { name: 'default', state: 'missing' },
      { name: 'eu', state: 'ok' },
      { name: 'shared', state: 'missing' }, // uses the integration's own auth
    ]);
  } finally {
    delete h.env.DEMO_EU_KEY;
    h.env.DEMO_API_KEY = DEMO_KEY_VALUE;
  }
});

it('admits the admin token or an agent with integrations:read, nobody else', async () => {
  await list(KEYS.a).expect(200);
  const forbidden = await list(KEYS.bNew);
  expect(forbidden.status).toBe(403);
  expect(forbidden.body).toMatchObject({ code: 'FORBIDDEN' });
  const unknown = await list('not-a-token');
  expect(unknown.status).toBe(401);
  expect(unknown.body).toMatchObject({ code: 'UNAUTHENTICATED' });
  expect((await request(h.server).get('/v1/integrations')).status).toBe(401);
  const wrongMethod = await request(h.server).post('/v1/integrations').set(bearer(ADMIN)).send({});
  expect(wrongMethod.status).toBe(405);
});

it('shows the circuit breaker as the workers leave it: open, then half_open once the recovery time is up', async () => {
  const breaker = new CircuitBreaker(h.redis, redisKeys(h.prefix), createMetrics({ defaultMetrics: false }));
  const log = createLogger({ name: 'test', level: 'silent' });
  for (let i = 0; i < 2; i++) {
    const ticket = await breaker.admit('demo', config.integrations.demo!, `t${i}`, log);
    if (ticket.admitted) await ticket.settle(errorFromResponse({ status: 503, headers: {}, body: '' }));
  }
  expect(byName(await list(ADMIN).expect(200), 'demo').circuitBreaker).toEqual({ state: 'open' });
  expect(byName(await list(ADMIN).expect(200), 'open').circuitBreaker).toEqual({ state: 'closed' });

  await waitFor(async () => byName(await list(ADMIN).expect(200), 'demo').circuitBreaker.state === 'half_open', {
    timeoutMs: RECOVERY_MS + 2000,
    what: 'half_open',
  });
  // Reading is not a transition: the workers' state is untouched.
  expect(await h.redis.hget(redisKeys(h.prefix).circuit('demo'), 'state')).toBe('open');
});

it('counts the queue: waiting, active, delayed and failed', async () => {
  const queue = new Queue(integrationQueueName('open'), { connection: h.redis, prefix: bullPrefix(h.prefix, integrationQueueName('open')) });
  // Jobs taken by hand (BullMQ's manual processing): one fails, one stays active.
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(integrationQueueName('open'), null, { connection, prefix: bullPrefix(h.prefix, integrationQueueName('open')) });
  try {
    await queue.add('open.ping', { n: 1 });
    await queue.add('open.ping', { n: 2 });
    const failing = await worker.getNextJob('token-1');
    await failing!.moveToFailed(new Error('boom'), 'token-1');
    await worker.getNextJob('token-2'); // left active
    await queue.add('open.ping', { n: 3 });
    await queue.add('open.ping', { n: 4 });
    await queue.add('open.ping', { n: 5 }, { delay: 60_000 });

    const res = await list(ADMIN).expect(200);
    expect(byName(res, 'open').queue).toEqual({ waiting: 2, active: 1, delayed: 1, failed: 1 });
    expect(byName(res, 'demo').queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  } finally {
    await worker.close(true);
    await queue.close();
    connection.disconnect();
  }
});

it('asks the OAuth token store, when there is one, for an oauth2 connection', async () => {
  const secrets = envSecretsProvider({});
  const crm = config.integrations.crm!;
  const asked: string[] = [];
  const oauth2 = async (integration: string, connection: string) => {
    asked.push(`${integration}/${connection}`);
    return 'needs_reauth' as const;
  };
  expect(await connectionState({ integration: 'crm', config: crm, connection: 'default', secrets, oauth2 })).toBe('needs_reauth');
  expect(asked).toEqual(['crm/default']);
  expect(await connectionState({ integration: 'crm', config: crm, connection: 'default', secrets })).toBe('missing');
  expect(await connectionState({ integration: 'crm', config: crm, connection: 'nope', secrets, oauth2 })).toBe('missing');
});

describe('while Redis is away', () => {
  let down: Harness;
  beforeAll(async () => {
    down = await startApi('api-integrations-down', { config, producerUrl: 'redis://127.0.0.1:1' });
    down.env.ADMIN_TOKEN = ADMIN;
  });
  afterAll(async () => {
    await down.close();
  });

  it('answers 503 UNAVAILABLE with Retry-After within 2 s', async () => {
    const started = Date.now();
    const res = await request(down.server).get('/v1/integrations').set(bearer(ADMIN));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(res.headers['retry-after']).toBe('1');
  });
});
