import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import request from 'supertest';
import { bearer, KEYS, portOf, startApi, testConfig, type Harness } from '../api/harness';
import { startTestIssuer, type TestIssuer } from '../api/mcp-oauth-issuer';
import { rpcError } from '../helpers/rpc-error';
import { connectValidating, type ValidatingClient } from './mcp-client';

/**
 * An MCP access token's narrowed scopes apply to the agent's existing jobs,
 * not only to new calls: a token narrowed to `tools:demo.*` reads, waits for
 * and cancels none of its agent's jobs of other tools, through `get_job` or
 * the task requests, and does not list them; each is answered exactly like
 * another agent's job. Real issuer (oauth2-mock-server in its own process),
 * real Redis (own prefix), the SDK's own client; no worker, so every job
 * stays queued (cancellable) for as long as the test needs.
 */

const SOME_ID = 'job_0123456789abcdef0123456789abcdef';

let issuer: TestIssuer;
let h: Harness;
let mcpUrl: string;
const clients: Client[] = [];

beforeAll(async () => {
  issuer = await startTestIssuer();
  h = await startApi('mcp-job-scope', { config: testConfig({ mcp: { authorizationServer: { issuer: issuer.url } } }) });
  mcpUrl = `http://127.0.0.1:${portOf(h.server)}/mcp`;
}, 30_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await h?.close();
  await issuer?.close();
});

async function connect(credential: string): Promise<ValidatingClient> {
  const connected = await connectValidating(mcpUrl, credential);
  clients.push(connected.client);
  return connected;
}

/** agent-c holds `tools:*`; its token here only `tools:demo.*` (the intersection: tools:demo.*). */
const narrowedToken = () => issuer.sign({ claims: { sub: 'agent-c', aud: mcpUrl, scope: 'tools:demo.*' } });

const callAsTask = (client: Client, name: string, args: Record<string, unknown>) =>
  client.request({ method: 'tools/call', params: { name, arguments: args } }, CreateTaskResultSchema, { task: { ttl: 60_000 } });

const jobIdOf = (result: CallToolResult) => (result.structuredContent as { job: { id: string } }).job.id;
const restStatus = async (id: string) => ((await request(h.server).get(`/v1/jobs/${id}`).set(bearer(KEYS.c)).expect(200)).body as { status: string }).status;

describe("a token narrowed to tools:demo.* and its agent's jobs of other tools", () => {
  let full: ValidatingClient;
  let narrowed: ValidatingClient;
  let outOfScopeJob: string;
  let inScopeJob: string;
  let outOfScopeTask: string;
  let inScopeTask: string;

  beforeAll(async () => {
    // The agent's own key (tools:*) submits a job of each kind, plain and as tasks.
    full = await connect(KEYS.c);
    outOfScopeJob = jobIdOf(await full.call('other_ping', {}, { 'broker/waitMs': 0 }));
    inScopeJob = jobIdOf(await full.call('demo_getContact', { id: 'c_scope' }, { 'broker/waitMs': 0 }));
    outOfScopeTask = (await callAsTask(full.client, 'other_ping', {})).task.taskId;
    inScopeTask = (await callAsTask(full.client, 'demo_getContact', { id: 'c_scope_task' })).task.taskId;
    narrowed = await connect(await narrowedToken());
    expect((await narrowed.client.listTools()).tools.map((t) => t.name)).not.toContain('other_ping');
  });

  it('get_job answers NOT_FOUND for a job of a tool outside the scopes, exactly as for an unknown id', async () => {
    const hidden = await narrowed.call('get_job', { id: outOfScopeJob, waitMs: 1000 });
    const unknown = await narrowed.call('get_job', { id: SOME_ID });
    expect(hidden.isError).toBe(true);
    expect(hidden.structuredContent).toEqual({ error: expect.objectContaining({ code: 'NOT_FOUND', retryable: false }) });
    expect(hidden.structuredContent).toEqual(unknown.structuredContent);
    expect(hidden.content).toEqual(unknown.content);
    // In scope: read as ever.
    const shown = await narrowed.call('get_job', { id: inScopeJob });
    expect(shown.structuredContent).toEqual({ job: expect.objectContaining({ id: inScopeJob, tool: 'demo.getContact', status: 'queued' }) });
  });

  it('tasks/get, tasks/result and tasks/cancel answer Task not found for a task of a tool outside the scopes, and serve one within them', async () => {
    for (const attempt of [
      narrowed.client.experimental.tasks.getTask(outOfScopeTask),
      narrowed.client.experimental.tasks.getTaskResult(outOfScopeTask, CallToolResultSchema),
      narrowed.client.experimental.tasks.cancelTask(outOfScopeTask),
    ]) {
      const err = await rpcError(attempt);
      expect(err.code).toBe(-32602);
      expect(err.message).toMatch(/Task not found/);
    }
    // Untouched: still queued, and the agent's key still sees it as its task.
    expect(await restStatus(outOfScopeTask)).toBe('queued');
    expect(await full.client.experimental.tasks.getTask(outOfScopeTask)).toMatchObject({ taskId: outOfScopeTask, status: 'working' });

    // Within the scopes, as ever.
    expect(await narrowed.client.experimental.tasks.getTask(inScopeTask)).toMatchObject({ taskId: inScopeTask, status: 'working' });
    // Found, and not finished: the bounded wait's timeout, not "not found".
    const waiting = await rpcError(narrowed.client.request({ method: 'tasks/result', params: { taskId: inScopeTask, _meta: { 'broker/waitMs': 0 } } }, CallToolResultSchema));
    expect(waiting.code).toBe(-32001);
    expect(await narrowed.client.experimental.tasks.cancelTask(inScopeTask)).toMatchObject({ taskId: inScopeTask, status: 'cancelled' });
    expect(await restStatus(inScopeTask)).toBe('cancelled');
  });

  it('tasks/list leaves tasks of tools outside the scopes out, and keeps them for the agent key', async () => {
    const listed = (await narrowed.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
    expect(listed).toContain(inScopeTask);
    expect(listed).not.toContain(outOfScopeTask);
    // Hidden from the token, not dropped from the agent's index.
    expect((await full.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual(expect.arrayContaining([inScopeTask, outOfScopeTask]));
  });
});
