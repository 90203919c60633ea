import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createRedis, type RedisClient } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { JobStore } from '@broker/redis/jobs/job-store';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { ApiDeps } from '@broker/api';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { demoCreateOrderTool, demoGetContactTool } from '../helpers/demo-tools';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply } from '../helpers/stub-server';
import { listenApi } from './harness';
import { startTestIssuer, type TestIssuer } from './mcp-oauth-issuer';

/**
 * `/mcp` as an OAuth 2.1 resource server (docs/mcp-and-openclaw.md#oauth-for-mcp-clients, the MCP authorization
 * spec, RFC 9728): against a real authorization server (oauth2-mock-server in
 * its own process: discovery, JWKS, RS256/ES256-signed JWTs), the MCP SDK's own
 * client, a real api + worker on Redis and a stub upstream. The api's JWKS
 * clock is the test's, so the cache's age and the refetch cooldown are
 * stepped, not slept through.
 */

const KEY_A = 'mcp-oauth-key-a';
const KEY_B = 'mcp-oauth-key-b';
const env = { AGENT_A_KEY: KEY_A, AGENT_B_KEY: KEY_B };
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'oauth-test', version: '1' } } };
const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The api's clock for its JWKS cache (ISSUER_KEYS_DEFAULTS otherwise: 10 min cache, 30 s cooldown, 1.5 s wait). */
let skewMs = 0;
const clock = () => Date.now() + skewMs;

interface Running {
  server: Server;
  base: string;
  prefix: string;
  close(): Promise<void>;
}

const running: Running[] = [];

async function startApi(label: string, config: BrokerConfig, extra: Partial<ApiDeps> = {}): Promise<Running> {
  const prefix = uniquePrefix(label);
  const api = await listenApi({ config, secrets: envSecretsProvider(env), logger: testLogger(label), prefix, issuerKeys: { now: clock }, ...extra });
  const handle: Running = {
    ...api,
    prefix,
    async close() {
      await api.close();
      await dropPrefix(prefix);
    },
  };
  running.push(handle);
  return handle;
}

const upstreamHandler = (req: { path: string; body: string }): StubReply => {
  if (req.path.startsWith('/contacts/')) return { status: 200, body: { id: req.path.split('/').pop(), name: 'Ada' } };
  if (req.path === '/orders') return { status: 201, body: { orderId: 'ord_1' } };
  return { status: 200, body: { pong: true } };
};

function brokerConfig(upstreamUrl: string, mcp: Record<string, unknown> | undefined): BrokerConfig {
  return parseConfig({
    agents: [
      { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:*', 'events:read'] },
      { id: 'agent-b', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:demo.getContact'] },
    ],
    integrations: {
      demo: { baseUrl: upstreamUrl, retry: { attempts: 1 }, tools: [demoGetContactTool, demoCreateOrderTool] },
      other: { baseUrl: upstreamUrl, retry: { attempts: 1 }, tools: [{ name: 'other.ping', method: 'GET', path: '/ping' }] },
    },
    ...(mcp ? { mcp } : {}),
  });
}

let issuer: TestIssuer;
let upstream: StubServer;
let main: Running;
let mcpUrl: string;
let worker: WorkerApp;
let workerRedis: RedisClient;
let store: JobStore;
let storeRedis: Redis;
const clients: Client[] = [];

beforeAll(async () => {
  issuer = await startTestIssuer();
  upstream = await StubServer.start(upstreamHandler);
  const config = brokerConfig(upstream.url, { authorizationServer: { issuer: issuer.url } });
  main = await startApi('mcp-oauth', config);
  mcpUrl = `${main.base}/mcp`;
  workerRedis = createRedis(REDIS_URL, 'worker');
  worker = createWorkerApp({ config, redis: workerRedis, prefix: main.prefix, secrets: envSecretsProvider(env), logger: testLogger('mcp-oauth-worker') });
  await worker.ready();
  storeRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  store = new JobStore(storeRedis, redisKeys(main.prefix), { retentionSeconds: config.retention.jobSeconds });
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await worker?.close();
  workerRedis?.disconnect();
  storeRedis?.disconnect();
  for (const r of running) await r.close();
  await upstream?.close();
  await issuer?.close();
});

/** A token from the test issuer for agent-a on the main api, unless told otherwise. */
const token = (claims: Record<string, unknown> = {}, options: { kid?: string; expiresIn?: number; stranger?: boolean } = {}) =>
  issuer.sign({ claims: { sub: 'agent-a', aud: mcpUrl, scope: 'tools:demo.*', ...claims }, ...options });

const initialize = (server: Server, bearer?: string, headers: Record<string, string> = {}) => {
  const req = request(server).post('/mcp').set('Accept', 'application/json, text/event-stream').set(headers);
  return (bearer ? req.set('Authorization', `Bearer ${bearer}`) : req).send(INIT);
};

async function connect(bearer: string): Promise<Client> {
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }));
  clients.push(client);
  return client;
}

const toolNames = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
// The result's shape is the MCP surface's business; these read the job id and error code from either of its forms.
const structured = (r: CallToolResult) => (r.structuredContent ?? {}) as { id?: string; code?: string; job?: { id?: string }; error?: { code?: string } };
const jobIdOf = (r: CallToolResult) => structured(r).job?.id ?? structured(r).id;
const errorCodeOf = (r: CallToolResult) => structured(r).error?.code ?? structured(r).code;

const jwks = async () => (await issuer.counts())['/jwks'] ?? 0;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const resourceMetadataUrl = () => `${main.base}${METADATA_PATH}/mcp`;

describe('protected resource metadata (RFC 9728)', () => {
  it('names the MCP URL and the issuer, at the root and at the path-suffixed location', async () => {
    for (const path of [METADATA_PATH, `${METADATA_PATH}/mcp`]) {
      const res = await request(main.server)
        .get(path)
        .expect(200)
        .expect('Content-Type', /application\/json/);
      expect(res.body).toEqual({
        resource: mcpUrl,
        authorization_servers: [issuer.url],
        bearer_methods_supported: ['header'],
        scopes_supported: ['events:read', 'tools:*', 'tools:demo.getContact'],
        resource_name: expect.any(String),
      });
      // Browser-based MCP clients read it cross-origin, with a preflight for MCP-Protocol-Version.
      expect(res.headers['access-control-allow-origin']).toBe('*');
      await request(main.server).options(path).set('Origin', 'https://inspector.example').expect(204).expect('Access-Control-Allow-Origin', '*');
    }
    await request(main.server).post(METADATA_PATH).expect(405);
  });
});

describe('a request without a token', () => {
  it('is 401 with WWW-Authenticate naming the metadata, which names the issuer', async () => {
    const res = await initialize(main.server).expect(401);
    expect(res.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${resourceMetadataUrl()}"`);
    const metadata = await request(main.server).get(new URL(resourceMetadataUrl()).pathname).expect(200);
    expect(metadata.body).toMatchObject({ resource: mcpUrl, authorization_servers: [issuer.url] });
    await expect(connect('')).rejects.toThrow(/401|Unauthorized/i);
  });
});

describe('a valid access token', () => {
  it('reads the issuer metadata and the JWKS once for many concurrent and later calls', async () => {
    const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => token({ jti: `many-${i}` })));
    const answers = await Promise.all(tokens.map((t) => initialize(main.server, t)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const t of tokens.slice(0, 3)) await initialize(main.server, t).expect(200);
    const client = await connect(tokens[0]!);
    await client.listTools();
    expect(await issuer.counts()).toMatchObject({
      // RFC 8414 first (this issuer has none), then OpenID discovery.
      '/.well-known/oauth-authorization-server': 1,
      '/.well-known/openid-configuration': 1,
      '/jwks': 1,
    });
  });

  it('calls a tool as the agent its sub names, through the SDK client', async () => {
    const client = await connect(await token());
    const result = await call(client, 'demo_getContact', { id: 'c_oauth_1' });
    expect(result.isError).toBeFalsy();
    expect(upstream.count((r) => r.path === '/contacts/c_oauth_1')).toBe(1);
    const id = jobIdOf(result)!;
    expect(id).toMatch(/^job_[0-9a-f]{32}$/);
    expect((await store.get(id))?.agentId).toBe('agent-a');
    // Agent a's job over REST with a's key; unknown to b, as any job of another agent is.
    await request(main.server).get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${KEY_A}`).expect(200);
    await request(main.server).get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${KEY_B}`).expect(404);
  });

  it("applies the token's scopes intersected with the agent's: tools:* narrowed to tools:demo.*", async () => {
    const client = await connect(await token({ scope: 'openid tools:demo.* events:read' }));
    expect(await toolNames(client)).toEqual(['demo_createOrder', 'demo_getContact', 'get_job', 'list_tools', 'retry_job']);
    const refused = await call(client, 'other_ping', {});
    expect(refused.isError).toBe(true);
    expect(errorCodeOf(refused)).toBe('TOOL_NOT_FOUND');
    expect(upstream.count((r) => r.path === '/ping')).toBe(0);

    const narrower = await connect(await token({ scope: 'tools:demo.get*' }));
    expect(await toolNames(narrower)).toEqual(['demo_getContact', 'get_job', 'list_tools', 'retry_job']);
    expect(errorCodeOf(await call(narrower, 'demo_createOrder', { sku: 's', qty: 1 }))).toBe('TOOL_NOT_FOUND');

    // No scope claim: the agent keeps only the helper tools.
    const none = await connect(await token({ scope: null }));
    expect(await toolNames(none)).toEqual(['get_job', 'list_tools', 'retry_job']);

    // A token cannot widen an agent: b holds tools:demo.getContact only.
    const b = await connect(await token({ sub: 'agent-b', scope: 'tools:*' }));
    expect(await toolNames(b)).toEqual(['demo_getContact', 'get_job', 'list_tools', 'retry_job']);
  });

  it("leaves agent keys working on /mcp, with the agent's own scopes", async () => {
    const client = await connect(KEY_A);
    expect(await toolNames(client)).toEqual(['demo_createOrder', 'demo_getContact', 'get_job', 'list_tools', 'other_ping', 'retry_job']);
  });

  it('is not accepted on /v1: the REST API takes agent keys only', async () => {
    const jwt = await token({ scope: 'tools:*' });
    const submit = await request(main.server)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${jwt}`)
      .send({ tool: 'demo.getContact', input: { id: 'x' } })
      .expect(401);
    expect(submit.body.code).toBe('UNAUTHENTICATED');
    expect(submit.headers['www-authenticate']).toBe('Bearer');
    await request(main.server).get('/v1/tools').set('Authorization', `Bearer ${jwt}`).expect(401);
  });
});

describe('refused tokens: 401 invalid_token, nothing queued', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const craft = (header: Record<string, unknown>, sign: (input: string) => string) => {
    const input = `${b64url(header)}.${b64url({ iss: issuer.url, sub: 'agent-a', aud: mcpUrl, scope: 'tools:*', iat: now(), exp: now() + 3600 })}`;
    return `${input}.${sign(input)}`;
  };
  // Each case must fail for its own reason (the problem's detail), not for another check it happens to trip.
  const cases: [string, () => Promise<string>, RegExp][] = [
    ['another issuer', () => token({ iss: 'http://127.0.0.1:1/another' }), /not issued by the configured authorization server/],
    ['another audience', () => token({ aud: 'https://elsewhere.example/mcp' }), /audience/],
    ['no audience', () => token({ aud: null }), /audience/],
    ['expired (past the clock tolerance)', () => token({}, { expiresIn: -120 }), /expired/],
    ['not valid yet', () => token({ nbf: now() + 600 }), /not valid yet/],
    ['no expiry', () => token({ exp: null }), /exp claim/],
    ['signed by another key under a published kid', () => token({}, { stranger: true }), /signature does not verify/],
    ['signed by a key the JWKS does not have', () => token({}, { stranger: true, kid: 'unpublished' }), /no key of the issuer/],
    ['alg none', async () => craft({ alg: 'none', typ: 'JWT' }, () => ''), /algorithm is not accepted/],
    [
      'alg HS256',
      async () => craft({ alg: 'HS256', typ: 'JWT', kid: 'k1' }, (input) => createHmac('sha256', 'guess').update(input).digest('base64url')),
      /algorithm is not accepted/,
    ],
    ['an unknown sub', () => token({ sub: 'agent-nobody' }), /sub claim names no agent/],
    ['a sub that is not a string', () => token({ sub: 42 }), /sub claim names no agent/],
    [
      'a payload changed after signing',
      async () => {
        const [h, , s] = (await token()).split('.');
        return `${h}.${b64url({ iss: issuer.url, sub: 'agent-a', aud: mcpUrl, scope: 'tools:*', exp: now() + 3600 })}.${s}`;
      },
      /signature does not verify/,
    ],
    ['neither an agent key nor a JWT', async () => 'not-a-key', /neither an agent key nor a JWT/],
  ];

  it.each(cases)('%s', async (_name, make, reason) => {
    const before = upstream.count();
    const res = await initialize(main.server, await make()).expect(401);
    expect(res.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', detail: expect.stringMatching(reason) });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"\\]+", resource_metadata="([^"]+)"$/);
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${resourceMetadataUrl()}"`);
    expect(upstream.count()).toBe(before);
  });

  it('does not take a Host-derived audience for a DNS name (a token for another resource server)', async () => {
    const jwt = await token({ aud: 'http://broker.example.com/mcp' });
    const res = await initialize(main.server, jwt, { Host: 'broker.example.com' }).expect(401);
    expect(res.body.detail).toMatch(/does not know its own MCP URL.*BROKER_PUBLIC_URL/);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });
});

describe('key rotation', () => {
  it('fetches the JWKS again for a new kid, at most once per cooldown', async () => {
    await issuer.rotate('ES256', 'k2');
    skewMs += 31_000;
    const before = await jwks();
    await initialize(main.server, await token({}, { kid: 'k2' })).expect(200);
    expect(await jwks()).toBe(before + 1);
    // Known now: no more fetches, old key and new.
    await initialize(main.server, await token({ jti: 'k2-again' }, { kid: 'k2' })).expect(200);
    await initialize(main.server, await token()).expect(200);
    expect(await jwks()).toBe(before + 1);

    // Made-up kids within the cooldown cost the issuer nothing; after it, one refetch.
    for (let i = 0; i < 3; i++) await initialize(main.server, await token({ jti: `u${i}` }, { stranger: true, kid: 'unpublished' })).expect(401);
    expect(await jwks()).toBe(before + 1);
    skewMs += 31_000;
    await initialize(main.server, await token({}, { stranger: true, kid: 'unpublished' })).expect(401);
    expect(await jwks()).toBe(before + 2);
  });
});

describe('BROKER_PUBLIC_URL, audience and agentClaim', () => {
  let publicApi: Running;
  beforeAll(async () => {
    const config = brokerConfig(upstream.url, { authorizationServer: { issuer: issuer.url, audience: 'urn:broker:test' }, agentClaim: 'client_id' });
    publicApi = await startApi('mcp-oauth-public', config, { publicUrl: 'https://broker.example.com/' });
  });

  it('names the public MCP URL in the metadata and the challenge', async () => {
    const doc = await request(publicApi.server).get(`${METADATA_PATH}/mcp`).expect(200);
    expect(doc.body.resource).toBe('https://broker.example.com/mcp');
    const res = await initialize(publicApi.server).expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer resource_metadata="https://broker.example.com/.well-known/oauth-protected-resource/mcp"');
  });

  it('accepts aud = the public MCP URL or the configured audience, and the agent named by agentClaim', async () => {
    const sign = (claims: Record<string, unknown>) => issuer.sign({ claims: { sub: 'someone', client_id: 'agent-a', scope: 'tools:*', ...claims } });
    await initialize(publicApi.server, await sign({ aud: 'https://broker.example.com/mcp' })).expect(200);
    await initialize(publicApi.server, await sign({ aud: ['https://other.example', 'urn:broker:test'] })).expect(200);
    // The loopback URL it was reached on is not its name once BROKER_PUBLIC_URL is set.
    await initialize(publicApi.server, await sign({ aud: `${publicApi.base}/mcp` })).expect(401);
    // sub is not the agent claim here.
    await initialize(publicApi.server, await sign({ aud: 'urn:broker:test', sub: 'agent-a', client_id: null })).expect(401);
  });
});

describe('without mcp.authorizationServer', () => {
  it('serves no metadata and challenges as before', async () => {
    const plain = await startApi('mcp-oauth-plain', brokerConfig(upstream.url, undefined));
    await request(plain.server).get(METADATA_PATH).expect(404);
    const res = await initialize(plain.server, await token()).expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('an authorization server that cannot be reached', () => {
  let idp: StubServer;
  let down: Running;
  let mode: 'refuse' | 'hang' | 'mixup' = 'refuse';

  beforeAll(async () => {
    idp = await StubServer.start((req) => {
      if (mode === 'refuse') return { destroy: true };
      if (mode === 'hang') return { hang: true };
      if (req.path === '/.well-known/oauth-authorization-server') return { status: 200, body: { issuer: 'https://attacker.example', jwks_uri: `${idp.url}/jwks` } };
      return { status: 404, body: {} };
    });
    down = await startApi('mcp-oauth-down', brokerConfig(upstream.url, { authorizationServer: { issuer: idp.url } }));
  });
  afterAll(async () => {
    await idp?.close();
  });

  const timed = async (jwt: string) => {
    const started = Date.now();
    const res = await initialize(down.server, jwt);
    return { res, ms: Date.now() - started };
  };

  it('answers 503 UNAVAILABLE with Retry-After at once when refused, and holds the failure briefly', async () => {
    const jwt = await token({ aud: `${down.base}/mcp` });
    const refused = await timed(jwt);
    expect(refused.res.status).toBe(503);
    expect(refused.res.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(refused.res.headers['retry-after']).toBe('2');
    expect(refused.ms).toBeLessThan(2000);

    // Within the hold: the same answer, without asking the issuer again.
    const asked = idp.count();
    expect((await timed(jwt)).res.status).toBe(503);
    expect(idp.count()).toBe(asked);
  });

  it('does not trust metadata that names another issuer', async () => {
    mode = 'mixup';
    skewMs += 3000;
    const res = await initialize(down.server, await token({ aud: `${down.base}/mcp` })).expect(503);
    expect(res.body.code).toBe('UNAVAILABLE');
    expect(idp.count((r) => r.path === '/.well-known/oauth-authorization-server')).toBeGreaterThan(0);
    expect(idp.count((r) => r.path === '/jwks')).toBe(0);
  });

  it('answers 503 within 2 s while the issuer hangs, and the waiting requests share one fetch', async () => {
    mode = 'hang';
    skewMs += 3000;
    const asked = idp.count();
    const jwt = await token({ aud: `${down.base}/mcp` });
    const hung = await Promise.all([timed(jwt), timed(jwt), timed(jwt)]);
    for (const { res, ms } of hung) {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(ms).toBeLessThan(2000);
    }
    expect(idp.count()).toBe(asked + 1);
  });

  it('still takes agent keys', async () => {
    await initialize(down.server, KEY_A).expect(200);
  });
});

describe('an issuer outage after the keys were fetched', () => {
  it('keeps verifying with the keys it has once they are stale', async () => {
    const jwt = await token({ jti: 'stale' });
    await issuer.close();
    skewMs += 11 * 60_000;
    await initialize(main.server, jwt).expect(200);
  });
});
