import type { Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Queue } from 'bullmq';
import request from 'supertest';
import { BrokerApiError, BrokerClient } from '@broker/client';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { ConfigError, parseConfig } from '@broker/shared/config/load';
import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { PublicJob } from '@broker/shared/jobs/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { demoGetContactTool } from '../helpers/demo-tools';
import { REDIS_URL } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { bearer, portOf, secondApi, startApi, type Harness } from './harness';

/**
 * `agents[].connections` (docs/guardrails.md#connections-per-agent-and-hashed-keys) against a real api + worker + Redis and
 * a counting stub upstream: an integration with two tenants' credentials, and
 * agents bound to one tenant, to a glob, or to nothing. A connection outside
 * the agent's list is 403 FORBIDDEN, pointer `/connection`, over HTTP, MCP and
 * the typed client, before anything is validated, counted or queued; a retry
 * after the list narrowed is refused the same way.
 */

const KEY = { x: 'key-agent-x', y: 'key-agent-y', z: 'key-agent-z', w: 'key-agent-w' };
/** Each connection's credential, as the stub sees it in `Authorization`. */
const CREDENTIAL = { default: 'crm-default-secret', 'tenant-a': 'crm-tenant-a-secret', 'tenant-b': 'crm-tenant-b-secret', staging: 'crm-staging-secret' };

const apiKey = (secret: string) => ({ type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret });

function brokerConfig(upstreamUrl: string, xConnections: string[]): BrokerConfig {
  return parseConfig({
    agents: [
      { id: 'agent-x', key: { secret: 'AGENT_X_KEY' }, scopes: ['tools:*'], connections: xConnections },
      { id: 'agent-y', key: { secret: 'AGENT_Y_KEY' }, scopes: ['tools:*'], connections: ['crm/*'] },
      { id: 'agent-z', key: { secret: 'AGENT_Z_KEY' }, scopes: ['tools:*'] },
      { id: 'agent-w', key: { secret: 'AGENT_W_KEY' }, scopes: ['tools:*'], connections: ['crm/tenant-*'] },
    ],
    integrations: {
      crm: {
        baseUrl: upstreamUrl,
        auth: apiKey('CRM_DEFAULT_KEY'),
        retry: { attempts: 1 },
        connections: {
          'tenant-a': { auth: apiKey('CRM_TENANT_A_KEY') },
          'tenant-b': { auth: apiKey('CRM_TENANT_B_KEY') },
          staging: { auth: apiKey('CRM_STAGING_KEY') },
        },
        tools: [{ ...demoGetContactTool, name: 'crm.getContact' }],
      },
      demo: { baseUrl: upstreamUrl, retry: { attempts: 1 }, tools: [demoGetContactTool] },
    },
  });
}

const SECRETS = {
  AGENT_X_KEY: KEY.x,
  AGENT_Y_KEY: KEY.y,
  AGENT_Z_KEY: KEY.z,
  AGENT_W_KEY: KEY.w,
  CRM_DEFAULT_KEY: CREDENTIAL.default,
  CRM_TENANT_A_KEY: CREDENTIAL['tenant-a'],
  CRM_TENANT_B_KEY: CREDENTIAL['tenant-b'],
  CRM_STAGING_KEY: CREDENTIAL.staging,
};

/** `/contacts/fail-once-*` answers 503 the first time (a retryable failure), everything else the contact. */
function answer(req: StubRequest): StubReply {
  const id = req.path.split('/').pop()!;
  if (id.startsWith('fail-once-') && upstream.count((r) => r.path === req.path) === 1) return { status: 503, body: { error: 'busy' } };
  return { status: 200, body: { id } };
}

let upstream: StubServer;
let config: BrokerConfig;
let h: Harness;
let worker: WorkerApp;
let workerRedis: ReturnType<typeof createRedis>;
let crmQueue: Queue;
const mcpClients: Client[] = [];
/** Contact ids of refused submissions: the upstream must never see them. */
const refusedIds: string[] = [];

beforeAll(async () => {
  upstream = await StubServer.start(answer);
  config = brokerConfig(upstream.url, ['crm/tenant-a']);
  h = await startApi('agent-conn', { config });
  Object.assign(h.env, SECRETS);
  workerRedis = createRedis(REDIS_URL, 'worker');
  worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets: envSecretsProvider(h.env), logger: testLogger('agent-conn') });
  await worker.ready();
  crmQueue = new Queue(integrationQueueName('crm'), { connection: h.redis, prefix: bullPrefix(h.prefix, integrationQueueName('crm')) });
});

afterAll(async () => {
  await Promise.all(mcpClients.map((c) => c.close()));
  await crmQueue?.close();
  await worker?.close();
  workerRedis?.disconnect();
  await h?.close();
  await upstream?.close();
});

const submit = (server: Server, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  request(server).post('/v1/jobs').set(bearer(key)).set(headers).send(body);

const getContact = (id: string, connection?: string) => ({ tool: 'crm.getContact', input: { id }, ...(connection === undefined ? {} : { connection }) });

/** Submits, expects 202, waits for the end, and returns the job and the credential the upstream received. */
async function runs(key: string, id: string, connection?: string): Promise<{ job: PublicJob; credential: string | undefined }> {
  const res = await submit(h.server, key, getContact(id, connection));
  expect({ id, connection, status: res.status }).toEqual({ id, connection, status: 202 });
  const job = await h.finished(bearer(key), res.body.id as string);
  const call = upstream.requests.find((r) => r.path === `/contacts/${id}`);
  return { job, credential: call?.headers.authorization };
}

/** What a refusal must leave as it was: the job records and the crm queue's jobs. */
async function written(): Promise<{ jobKeys: number; crmJobs: number }> {
  const counts = await crmQueue.getJobCounts();
  return { jobKeys: await h.jobKeyCount(), crmJobs: Object.values(counts).reduce((a, b) => a + b, 0) };
}

/** A submission that must be refused 403 with pointer /connection, and leave nothing behind. */
async function refused(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<void> {
  const before = await written();
  const calls = upstream.count();
  const res = await submit(h.server, key, body, headers);
  expect({ body: res.body as unknown, status: res.status }).toMatchObject({ status: 403, body: { status: 403, code: 'FORBIDDEN', errors: [{ pointer: '/connection' }] } });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers.location).toBeUndefined();
  expect(await written()).toEqual(before);
  expect(upstream.count()).toBe(calls);
  const input = body.input as { id?: string } | undefined;
  if (input?.id) refusedIds.push(input.id);
}

describe('agent bound to crm/tenant-a (X)', () => {
  it('is refused tenant-b: 403 FORBIDDEN at /connection, nothing recorded, queued or sent', async () => {
    await refused(KEY.x, getContact('x-b-1', 'tenant-b'));
    const res = await submit(h.server, KEY.x, getContact('x-b-2', 'tenant-b'));
    expect(res.body.detail).toMatch(/tenant-b/);
    refusedIds.push('x-b-2');
  });

  it('is refused before its input is validated, and whether or not the connection exists', async () => {
    // Bad input on a forbidden connection: 403, not 422 (another tenant's credentials are not even looked at).
    await refused(KEY.x, { tool: 'crm.getContact', input: {}, connection: 'tenant-b' });
    // An unknown connection is 403 too, so a bound agent cannot probe which connections exist.
    await refused(KEY.x, getContact('x-nope', 'nope'));
  });

  it('may NOT use the default connection, named or left out', async () => {
    await refused(KEY.x, getContact('x-default-1'));
    await refused(KEY.x, getContact('x-default-2', 'default'));
  });

  it('is refused every connection of an integration its list does not name', async () => {
    await refused(KEY.x, { tool: 'demo.getContact', input: { id: 'x-demo' } });
  });

  it('leaves its Idempotency-Key unclaimed when refused', async () => {
    const headers = { 'Idempotency-Key': 'x-key-1' };
    await refused(KEY.x, getContact('x-idem-b', 'tenant-b'), headers);
    // Had the refusal claimed the key, this different request would be 422 IDEMPOTENCY_KEY_REUSED.
    const res = await submit(h.server, KEY.x, getContact('x-idem-a', 'tenant-a'), headers);
    expect(res.status).toBe(202);
    expect((await h.finished(bearer(KEY.x), res.body.id as string)).status).toBe('succeeded');
  });

  it('runs on tenant-a, and the upstream receives tenant-a’s credential', async () => {
    const { job, credential } = await runs(KEY.x, 'x-a-1', 'tenant-a');
    expect(job).toMatchObject({ status: 'succeeded', result: { id: 'x-a-1' } });
    expect(credential).toBe(`Bearer ${CREDENTIAL['tenant-a']}`);
  });
});

describe('agent bound to crm/* (Y)', () => {
  it('may use both tenants and default (the glob covers it), each with its own credential', async () => {
    for (const connection of ['tenant-a', 'tenant-b', 'staging'] as const) {
      const { job, credential } = await runs(KEY.y, `y-${connection}`, connection);
      expect(job.status).toBe('succeeded');
      expect(credential).toBe(`Bearer ${CREDENTIAL[connection]}`);
    }
    const implicit = await runs(KEY.y, 'y-default');
    expect(implicit.credential).toBe(`Bearer ${CREDENTIAL.default}`);
  });

  it('is allowed a missing connection by its glob, which then fails validation (422), not authorization', async () => {
    const res = await submit(h.server, KEY.y, getContact('y-nope', 'nope')).expect(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: '/connection', message: expect.stringMatching(/no connection "nope"/) }] });
  });

  it('is still refused integrations outside crm', async () => {
    await refused(KEY.y, { tool: 'demo.getContact', input: { id: 'y-demo' } });
  });
});

describe('agent with no connections list (Z)', () => {
  it('may use every connection of every integration', async () => {
    for (const connection of ['tenant-a', 'tenant-b'] as const) {
      const { credential } = await runs(KEY.z, `z-${connection}`, connection);
      expect(credential).toBe(`Bearer ${CREDENTIAL[connection]}`);
    }
    expect((await runs(KEY.z, 'z-default')).credential).toBe(`Bearer ${CREDENTIAL.default}`);
    const demo = await submit(h.server, KEY.z, { tool: 'demo.getContact', input: { id: 'z-demo' } }).expect(202);
    expect((await h.finished(bearer(KEY.z), demo.body.id as string)).status).toBe('succeeded');
  });
});

describe('agent bound to crm/tenant-* (W)', () => {
  it('may use the connections the glob matches, and no other', async () => {
    for (const connection of ['tenant-a', 'tenant-b'] as const) {
      expect((await runs(KEY.w, `w-${connection}`, connection)).credential).toBe(`Bearer ${CREDENTIAL[connection]}`);
    }
    await refused(KEY.w, getContact('w-staging', 'staging'));
    await refused(KEY.w, getContact('w-default'));
  });
});

describe('over MCP', () => {
  async function connect(key: string, server: Server = h.server): Promise<Client> {
    const client = new Client({ name: 'broker-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(server)}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
    await client.connect(transport);
    mcpClients.push(client);
    return client;
  }
  const call = (client: Client, name: string, args: Record<string, unknown>, connection?: string) =>
    client.callTool({ name, arguments: args, ...(connection === undefined ? {} : { _meta: { 'broker/connection': connection } }) }) as Promise<CallToolResult>;

  it('answers a connection outside the list with a FORBIDDEN tool error at /connection, and queues nothing', async () => {
    const x = await connect(KEY.x);
    const before = await written();
    const calls = upstream.count();
    for (const [id, connection] of [
      ['mcp-x-b', 'tenant-b'],
      ['mcp-x-default', undefined],
    ] as const) {
      const result = await call(x, 'crm_getContact', { id }, connection);
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toEqual({
        error: { code: 'FORBIDDEN', message: expect.stringMatching(/may not use connection/), retryable: false, errors: [{ pointer: '/connection', message: expect.any(String) }] },
      });
      expect((result.content[0] as { text: string }).text).toMatch(/^FORBIDDEN: /);
      refusedIds.push(id);
    }
    expect(await written()).toEqual(before);
    expect(upstream.count()).toBe(calls);
  });

  it('runs a call on an allowed connection with that connection’s credential', async () => {
    const x = await connect(KEY.x);
    const result = await call(x, 'crm_getContact', { id: 'mcp-x-a' }, 'tenant-a');
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ result: { id: 'mcp-x-a' }, job: { status: 'succeeded' } });
    expect(upstream.requests.find((r) => r.path === '/contacts/mcp-x-a')?.headers.authorization).toBe(`Bearer ${CREDENTIAL['tenant-a']}`);
  });
});

describe('@broker/client', () => {
  it('throws BrokerApiError 403 FORBIDDEN with the /connection pointer', async () => {
    const x = new BrokerClient({ baseUrl: `http://127.0.0.1:${portOf(h.server)}`, agentKey: KEY.x });
    const err = (await x.submit('crm.getContact', { id: 'client-x-b' }, { connection: 'tenant-b' }).catch((e: unknown) => e)) as BrokerApiError;
    refusedIds.push('client-x-b');
    expect(err).toBeInstanceOf(BrokerApiError);
    expect(err).toMatchObject({ status: 403, code: 'FORBIDDEN', retryable: false });
    expect(err.errors).toEqual([{ pointer: '/connection', message: expect.any(String) }]);
    expect((await x.run('crm.getContact', { id: 'client-x-a' }, { connection: 'tenant-a', timeoutMs: 10_000 })).status).toBe('succeeded');
  });
});

describe('retry after the config narrowed', () => {
  it('refuses to re-run X’s failed tenant-a job once X may no longer use tenant-a (HTTP and MCP), and leaves it failed', async () => {
    const submitted = await submit(h.server, KEY.x, getContact('fail-once-x', 'tenant-a')).expect(202);
    const id = submitted.body.id as string;
    expect(await h.finished(bearer(KEY.x), id)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR', retryable: true } });

    const narrowed = await secondApi(h, brokerConfig(upstream.url, ['crm/tenant-b']));
    try {
      const res = await request(narrowed.server).post(`/v1/jobs/${id}/retry`).set(bearer(KEY.x)).expect(403);
      expect(res.body).toMatchObject({ status: 403, code: 'FORBIDDEN', detail: expect.stringMatching(/tenant-a/) });

      const client = new Client({ name: 'broker-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(narrowed.server)}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${KEY.x}` } } }),
      );
      try {
        const result = (await client.callTool({ name: 'retry_job', arguments: { id } })) as CallToolResult;
        expect(result.isError).toBe(true);
        expect(result.structuredContent).toMatchObject({ error: { code: 'FORBIDDEN' } });
      } finally {
        await client.close();
      }
    } finally {
      await narrowed.close();
    }
    expect(await h.store.get(id)).toMatchObject({ status: 'failed', attempts: 1, connection: 'tenant-a' });
    expect(upstream.count((r) => r.path === '/contacts/fail-once-x')).toBe(1);

    // The job itself was retryable: the api with the old list re-runs it.
    await request(h.server).post(`/v1/jobs/${id}/retry`).set(bearer(KEY.x)).expect(202);
    expect(await h.finished(bearer(KEY.x), id)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });
});

describe('refused submissions', () => {
  it('never reached the upstream', () => {
    expect(refusedIds.length).toBeGreaterThan(10);
    const seen = refusedIds.filter((id) => upstream.count((r) => r.path === `/contacts/${id}`) > 0);
    expect(seen).toEqual([]);
  });
});

describe('OpenAPI', () => {
  it('documents the 403 for a connection outside the list, on submit and on retry', async () => {
    const doc = (await request(h.server).get('/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    expect(doc.paths['/v1/jobs']!.post!.responses['403']!.description).toMatch(/`connections`.*\/connection/);
    expect(doc.paths['/v1/jobs/{id}/retry']!.post!.responses['403']!.description).toMatch(/connection/);
  });
});

describe('config', () => {
  const problemsOf = (connections: unknown): string[] => {
    try {
      parseConfig({
        agents: [{ id: 'a', key: { secret: 'A_KEY' }, connections }],
        integrations: { crm: { baseUrl: 'http://127.0.0.1:9' } },
      });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('accepts integration/connection names and globs; no list means every connection', () => {
    expect(problemsOf(['crm/tenant-a', 'crm/*', 'crm/tenant-*', 'crm/default'])).toEqual([]);
    expect(parseConfig({ agents: [{ id: 'a', key: { secret: 'A_KEY' } }] }).agents[0]!.connections).toBeUndefined();
  });

  it('refuses an unknown integration at start, by path', () => {
    expect(problemsOf(['crm/tenant-a', 'billing/*'])).toEqual(['agents.0.connections.1: unknown integration "billing"']);
    // Object.prototype's keys are not integrations.
    expect(problemsOf(['constructor/*'])).toEqual(['agents.0.connections.0: unknown integration "constructor"']);
  });

  it('refuses a malformed entry with one message saying what an entry looks like', () => {
    for (const entry of ['crm', 'crm/', '/tenant-a', 'crm/a/b', 'CRM/tenant-a', '*/tenant-a', 'crm/tenant a']) {
      expect({ entry, problems: problemsOf([entry]) }).toEqual({
        entry,
        problems: ['agents.0.connections.0: must look like "<integration>/<connection or glob>", e.g. "crm/tenant-a" or "stripe/*"'],
      });
    }
    expect(problemsOf('crm/*')).toEqual([expect.stringMatching(/^agents\.0\.connections: /)]);
  });
});
