import request from 'supertest';
import type { Harness } from '../api/harness';
import { stripeEvent } from '../webhooks/signers';
import { ADMIN_TOKEN, AGENT_KEYS, securityConfig, startSecurityApi } from './harness';

/*
 * Access control, table-driven over every route the app mounts: who may call
 * it (nobody, any agent, an agent holding a scope, the admin token, the admin
 * token over HTTP Basic), and object-level isolation between agents (jobs,
 * events, MCP get_job and retry_job). A route added without a row here fails
 * the suite.
 */

type Access =
  | { kind: 'public' }
  | { kind: 'agent' }
  /** The admin token, or an agent key holding `scope`. */
  | { kind: 'operator'; scope: string }
  /** `agents: 403`: an agent key is known but refused (FORBIDDEN) rather than 401. */
  | { kind: 'admin'; agents?: 403 }
  /** Bull Board: HTTP Basic, the admin token as password. */
  | { kind: 'basic-admin' };

interface Row {
  /** As the app's router names it: `<method> <path template>`, or `use <mount path>`. */
  route: string;
  method: string;
  path: string;
  body?: unknown;
  access: Access;
}

const AGENT_SCOPES: Record<string, string[]> = {
  [AGENT_KEYS.a]: ['tools:demo.*'],
  [AGENT_KEYS.b]: ['tools:demo.get*', 'events:read'],
  [AGENT_KEYS.c]: ['tools:*'],
  [AGENT_KEYS.ops]: ['events:read', 'events:replay', 'integrations:read', 'audit:read', 'jobs:approve'],
};

let h: Harness;
let jobOfC: string;
const EVENT = 'stripe:evt_access_1';
const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

const ROUTES: Row[] = [
  { route: 'get /healthz', method: 'GET', path: '/healthz', access: { kind: 'public' } },
  { route: 'get /readyz', method: 'GET', path: '/readyz', access: { kind: 'public' } },
  { route: 'get /openapi.json', method: 'GET', path: '/openapi.json', access: { kind: 'public' } },
  { route: 'get /docs', method: 'GET', path: '/docs', access: { kind: 'public' } },
  // RFC 9728 metadata of /mcp: public by design (404 here, as this config names no mcp.authorizationServer).
  { route: 'get /.well-known/oauth-protected-resource', method: 'GET', path: '/.well-known/oauth-protected-resource', access: { kind: 'public' } },
  { route: 'get /.well-known/oauth-protected-resource/mcp', method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', access: { kind: 'public' } },
  { route: 'get /metrics', method: 'GET', path: '/metrics', access: { kind: 'admin', agents: 403 } },
  { route: 'use /admin/queues', method: 'GET', path: '/admin/queues/api/queues', access: { kind: 'basic-admin' } },
  { route: 'get /v1/tools', method: 'GET', path: '/v1/tools', access: { kind: 'agent' } },
  { route: 'post /v1/jobs', method: 'POST', path: '/v1/jobs', body: { tool: 'demo.getContact', input: { id: 'acl' } }, access: { kind: 'agent' } },
  { route: 'get /v1/jobs/:id', method: 'GET', path: '/v1/jobs/job_00000000000000000000000000000000', access: { kind: 'agent' } },
  { route: 'delete /v1/jobs/:id', method: 'DELETE', path: '/v1/jobs/job_00000000000000000000000000000000', access: { kind: 'agent' } },
  { route: 'post /v1/jobs/:id/retry', method: 'POST', path: '/v1/jobs/job_00000000000000000000000000000000/retry', access: { kind: 'agent' } },
  { route: 'post /mcp', method: 'POST', path: '/mcp', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, access: { kind: 'agent' } },
  { route: 'get /v1/integrations', method: 'GET', path: '/v1/integrations', access: { kind: 'operator', scope: 'integrations:read' } },
  {
    route: 'put /v1/integrations/:name/connections/:connection/token',
    method: 'PUT',
    path: '/v1/integrations/crm/connections/acme/token',
    body: { accessToken: 'at-acl', expiresIn: 3600 },
    access: { kind: 'admin' },
  },
  { route: 'get /oauth/:integration/connect', method: 'GET', path: '/oauth/crm/connect?connection=acme', access: { kind: 'admin' } },
  // The provider sends the user's browser here: no broker credential, the single-use state is the proof.
  { route: 'get /oauth/:integration/callback', method: 'GET', path: '/oauth/crm/callback?state=unknown&code=x', access: { kind: 'public' } },
  // Verified by signature, not by a broker credential.
  { route: 'post /hooks/:source', method: 'POST', path: '/hooks/stripe', body: { id: 'evt_x' }, access: { kind: 'public' } },
  { route: 'get /v1/events', method: 'GET', path: '/v1/events', access: { kind: 'operator', scope: 'events:read' } },
  { route: 'get /v1/events/:id', method: 'GET', path: `/v1/events/${EVENT}`, access: { kind: 'operator', scope: 'events:read' } },
  { route: 'post /v1/events/:id/replay', method: 'POST', path: `/v1/events/${EVENT}/replay`, access: { kind: 'operator', scope: 'events:replay' } },
  { route: 'get /v1/audit', method: 'GET', path: '/v1/audit', access: { kind: 'operator', scope: 'audit:read' } },
  { route: 'get /v1/approvals', method: 'GET', path: '/v1/approvals', access: { kind: 'operator', scope: 'jobs:approve' } },
  { route: 'post /v1/jobs/:id/approve', method: 'POST', path: '/v1/jobs/job_00000000000000000000000000000000/approve', access: { kind: 'operator', scope: 'jobs:approve' } },
  {
    route: 'post /v1/jobs/:id/deny',
    method: 'POST',
    path: '/v1/jobs/job_00000000000000000000000000000000/deny',
    body: { reason: 'acl' },
    access: { kind: 'operator', scope: 'jobs:approve' },
  },
];

function send(row: Row, authorization: string | undefined): request.Test {
  const agent = request(h.server);
  let req = row.method === 'GET' ? agent.get(row.path) : row.method === 'POST' ? agent.post(row.path) : row.method === 'PUT' ? agent.put(row.path) : agent.delete(row.path);
  if (row.path === '/mcp') req = req.set('Accept', 'application/json, text/event-stream');
  if (authorization !== undefined) req = req.set('Authorization', authorization);
  return row.body === undefined ? req : req.send(row.body as object);
}

const refused = (status: number) => status === 401 || status === 403;

beforeAll(async () => {
  h = await startSecurityApi('access', securityConfig());
  const signed = stripeEvent({ id: 'evt_access_1' });
  await request(h.server).post('/hooks/stripe').set(signed.headers).send(signed.body).expect(200);
  jobOfC = (
    await request(h.server)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${AGENT_KEYS.c}`)
      .send({ tool: 'demo.getContact', input: { id: 'c-own' } })
      .expect(202)
  ).body.id;
});

afterAll(async () => {
  await h?.close();
});

describe('access control over every route', () => {
  it('the table covers every route the app mounts', () => {
    const stack = (h.api.app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> }; name: string }> } }).router.stack;
    const mounted = stack.flatMap((layer) =>
      layer.route
        ? Object.keys(layer.route.methods)
            .filter((m) => m !== '_all')
            .map((m) => `${m} ${layer.route!.path}`)
        : [],
    );
    const missing = mounted.filter((r) => !ROUTES.some((row) => row.route === r));
    expect(missing).toEqual([]);
    // The board is a mounted sub-app, not a route: its row is the mount.
    expect(stack.some((layer) => layer.name === 'mounted_app')).toBe(true);
  });

  describe.each(ROUTES)('$route', (row) => {
    it('answers by its access rule', async () => {
      const problems: string[] = [];
      const expect401 = async (label: string, authorization: string | undefined) => {
        const res = await send(row, authorization);
        if (res.status !== 401) problems.push(`${label}: ${res.status}, expected 401`);
        else if (!String(res.headers['content-type']).startsWith('application/problem+json') || res.body.code !== 'UNAUTHENTICATED')
          problems.push(`${label}: 401 without an UNAUTHENTICATED problem`);
      };
      const expectAllowed = async (label: string, authorization: string | undefined) => {
        const res = await send(row, authorization);
        if (refused(res.status) || res.status >= 500) problems.push(`${label}: ${res.status} ${res.text.slice(0, 160)}`);
      };
      const expect403 = async (label: string, authorization: string) => {
        const res = await send(row, authorization);
        if (res.status !== 403 || res.body.code !== 'FORBIDDEN') problems.push(`${label}: ${res.status}, expected 403 FORBIDDEN`);
      };

      const access = row.access;
      if (access.kind === 'public') {
        await expectAllowed('no credential', undefined);
      } else if (access.kind === 'basic-admin') {
        const none = await send(row, undefined);
        if (none.status !== 401 || !/^Basic /.test(String(none.headers['www-authenticate'])))
          problems.push(`no credential: ${none.status} ${String(none.headers['www-authenticate'])}`);
        await expect401('bearer admin token', `Bearer ${ADMIN_TOKEN}`);
        await expect401('basic, wrong password', basic('wrong'));
        for (const key of Object.keys(AGENT_SCOPES)) await expect401(`basic, agent key ${key}`, basic(key));
        await expectAllowed('basic admin', basic(ADMIN_TOKEN));
      } else {
        await expect401('no credential', undefined);
        await expect401('unknown bearer', 'Bearer not-a-known-key');
        await expect401('malformed', 'Bearer');
        await expect401('basic admin', basic(ADMIN_TOKEN));
        if (access.kind === 'agent') {
          await expect401('admin token (not an agent)', `Bearer ${ADMIN_TOKEN}`);
          await expectAllowed('agent c', `Bearer ${AGENT_KEYS.c}`);
        }
        if (access.kind === 'admin') {
          // No scope opens an admin route, not even an agent holding every operator scope.
          for (const key of Object.keys(AGENT_SCOPES)) {
            if (access.agents === 403) await expect403(`agent ${key}`, `Bearer ${key}`);
            else await expect401(`agent ${key}`, `Bearer ${key}`);
          }
          await expectAllowed('admin token', `Bearer ${ADMIN_TOKEN}`);
        }
        if (access.kind === 'operator') {
          for (const [key, scopes] of Object.entries(AGENT_SCOPES)) {
            if (scopes.includes(access.scope)) await expectAllowed(`agent ${key} (has ${access.scope})`, `Bearer ${key}`);
            else await expect403(`agent ${key} (lacks ${access.scope})`, `Bearer ${key}`);
          }
          await expectAllowed('admin token', `Bearer ${ADMIN_TOKEN}`);
        }
      }
      expect(problems).toEqual([]);
    });
  });
});

/** One MCP JSON-RPC call; the answer comes back as one SSE `message` event. */
async function mcp(
  key: string,
  method: string,
  params: Record<string, unknown>,
): Promise<{ result?: { isError?: boolean; structuredContent?: unknown; content?: Array<{ text: string }>; tools?: Array<{ name: string }> } }> {
  const res = await request(h.server)
    .post('/mcp')
    .set('Authorization', `Bearer ${key}`)
    .set('Accept', 'application/json, text/event-stream')
    .send({ jsonrpc: '2.0', id: 1, method, params });
  expect(res.status).toBe(200);
  const data = /^data: (.*)$/m.exec(res.text)?.[1] ?? res.text;
  return JSON.parse(data);
}

describe('object-level isolation between agents', () => {
  it("another agent's job reads exactly like an unknown one, over REST", async () => {
    const theirs = await request(h.server).get(`/v1/jobs/${jobOfC}`).set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    const unknown = await request(h.server).get('/v1/jobs/job_00000000000000000000000000000000').set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual(unknown.body);
    const waited = await request(h.server).get(`/v1/jobs/${jobOfC}?waitMs=50`).set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    expect(waited.status).toBe(404);
  });

  it('another agent cannot cancel a job: 404, and the job is untouched', async () => {
    const res = await request(h.server).delete(`/v1/jobs/${jobOfC}`).set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    expect(res.status).toBe(404);
    expect((await h.store.get(jobOfC))?.status).toBe('queued');
    await request(h.server).get(`/v1/jobs/${jobOfC}`).set('Authorization', `Bearer ${AGENT_KEYS.c}`).expect(200);
  });

  it('another agent cannot retry a job: 404 exactly like an unknown id, and the job is untouched', async () => {
    const theirs = await request(h.server).post(`/v1/jobs/${jobOfC}/retry`).set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    const unknown = await request(h.server).post('/v1/jobs/job_00000000000000000000000000000000/retry').set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual(unknown.body);
    expect((await h.store.get(jobOfC))?.status).toBe('queued');
    // The owner is told why not: the job has not failed.
    const own = await request(h.server).post(`/v1/jobs/${jobOfC}/retry`).set('Authorization', `Bearer ${AGENT_KEYS.c}`);
    expect(own.status).toBe(409);
  });

  it("MCP retry_job: another agent's job is NOT_FOUND", async () => {
    const theirs = await mcp(AGENT_KEYS.a, 'tools/call', { name: 'retry_job', arguments: { id: jobOfC } });
    expect(theirs.result?.isError).toBe(true);
    expect(JSON.stringify(theirs.result)).toContain('NOT_FOUND');
    expect(JSON.stringify(theirs.result)).not.toContain('c-own');
    expect((await h.store.get(jobOfC))?.status).toBe('queued');
  });

  it("MCP get_job: another agent's job is NOT_FOUND; the owner reads it", async () => {
    const theirs = await mcp(AGENT_KEYS.a, 'tools/call', { name: 'get_job', arguments: { id: jobOfC } });
    expect(theirs.result?.isError).toBe(true);
    expect(JSON.stringify(theirs.result)).toContain('NOT_FOUND');
    expect(JSON.stringify(theirs.result)).not.toContain('c-own');
    const own = await mcp(AGENT_KEYS.c, 'tools/call', { name: 'get_job', arguments: { id: jobOfC } });
    expect(own.result?.isError).toBeFalsy();
    expect(JSON.stringify(own.result)).toContain(jobOfC);
  });

  it('MCP lists and calls only the tools in scope', async () => {
    const listed = await mcp(AGENT_KEYS.a, 'tools/list', {});
    const names = (listed.result?.tools ?? []).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['demo_getContact', 'demo_createOrder', 'get_job']));
    expect(names).not.toContain('crm_getContact');
    const call = await mcp(AGENT_KEYS.a, 'tools/call', { name: 'crm_getContact', arguments: { id: '1' }, _meta: { 'broker/waitMs': 0 } });
    expect(call.result?.isError).toBe(true);
    expect(JSON.stringify(call.result)).toContain('TOOL_NOT_FOUND');
  });

  it('REST: a tool outside the scopes is 403 and not listed', async () => {
    const res = await request(h.server)
      .post('/v1/jobs')
      .set('Authorization', `Bearer ${AGENT_KEYS.b}`)
      .send({ tool: 'demo.createOrder', input: { sku: 's', qty: 1 } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
    const tools = await request(h.server).get('/v1/tools').set('Authorization', `Bearer ${AGENT_KEYS.b}`).expect(200);
    expect(tools.body.tools.map((t: { name: string }) => t.name)).toEqual(['demo.getContact']);
  });

  it('events are operator data: agents without events:read cannot list, read or replay them', async () => {
    for (const path of ['/v1/events', `/v1/events/${EVENT}`]) {
      const res = await request(h.server).get(path).set('Authorization', `Bearer ${AGENT_KEYS.c}`);
      expect(res.status).toBe(403);
    }
    const replay = await request(h.server).post(`/v1/events/${EVENT}/replay`).set('Authorization', `Bearer ${AGENT_KEYS.b}`);
    expect(replay.status).toBe(403);
  });
});
