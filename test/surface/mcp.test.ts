import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import request from 'supertest';
import { bearer, KEYS } from '../api/harness';
import { connectValidating, lastJsonLine, type ValidatingClient } from './mcp-client';
import { demoUpstream, startStack, type Stack } from './stack';

/**
 * The MCP endpoint with the SDK's own client, against a real api + worker and
 * a stub upstream: tools filtered by scope, with annotations and output
 * schemas, a call that returns the upstream's answer as structuredContent,
 * tool errors with our codes and advice, and the same auth as the REST API.
 * Every answer passes the client's own outputSchema validation (mcp-client.ts).
 */

let s: Stack;
const clients: Client[] = [];

beforeAll(async () => {
  s = await startStack('mcp', { overrides: { mcp: { allowedOrigins: ['https://app.example.com'] } } });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await s?.close();
});

/** The SDK client, with its tools listed (which arms its outputSchema validation). */
async function connect(key: string): Promise<ValidatingClient> {
  const checked = await connectValidating(`${s.baseUrl}/mcp`, key);
  clients.push(checked.client);
  return checked;
}

interface Answer {
  result?: unknown;
  job?: Record<string, unknown> & { id: string };
  error?: Record<string, unknown>;
  tools?: unknown[];
}
const structured = (result: CallToolResult) => result.structuredContent as Answer;
const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

describe('MCP over Streamable HTTP', () => {
  it('lists only the tools the key may call, named with "_", with their JSON Schemas', async () => {
    const a = await connect(KEYS.a);
    const { tools } = await a.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['demo_createOrder', 'demo_getContact', 'get_job', 'list_tools', 'retry_job']);
    const getContact = tools.find((t) => t.name === 'demo_getContact')!;
    expect(getContact.description).toBe('Fetch one contact');
    expect(getContact.inputSchema).toMatchObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } });

    const b = await connect(KEYS.bNew);
    expect((await b.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo_getContact', 'get_job', 'list_tools', 'retry_job']);
  });

  it('annotates each tool (read-only for GETs, destructive writes, idempotent from the config, open world)', async () => {
    const { tools } = await (await connect(KEYS.a)).client.listTools();
    const annotations = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(annotations.demo_getContact).toEqual({ title: 'demo.getContact', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
    expect(annotations.demo_createOrder).toEqual({ title: 'demo.createOrder', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true });
    expect(annotations.get_job).toMatchObject({ readOnlyHint: true });
    expect(annotations.retry_job).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true });
    expect(annotations.list_tools).toMatchObject({ readOnlyHint: true });
  });

  it("declares an object outputSchema for every tool: the tool's output under result, the job, the error", async () => {
    const { tools } = await (await connect(KEYS.a)).client.listTools();
    for (const tool of tools)
      expect(tool.outputSchema).toMatchObject({
        type: 'object',
        properties: expect.objectContaining({ error: expect.objectContaining({ required: ['code', 'message', 'retryable'] }) }),
      });
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    // demo.getContact's own output schema, as the config declares it.
    expect(byName.demo_getContact!.outputSchema!.properties).toMatchObject({
      result: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      job: { type: 'object', required: expect.arrayContaining(['id', 'status']) },
    });
    // No output schema declared (`{}`): any result.
    expect(byName.demo_createOrder!.outputSchema!.properties!.result).toEqual({ description: expect.any(String) });
    expect(Object.keys(byName.get_job!.outputSchema!.properties!).sort()).toEqual(['error', 'job']);
    expect(Object.keys(byName.list_tools!.outputSchema!.properties!).sort()).toEqual(['error', 'tools']);
    expect(byName.demo_getContact!._meta).not.toHaveProperty('broker/outputSchema');
  });

  it('calls a tool through the job queue and returns its result as text and as structuredContent {result, job}', async () => {
    const a = await connect(KEYS.a);
    const result = await a.call('demo_getContact', { id: 'c_mcp_1' });
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(text(result))).toEqual({ id: 'c_mcp_1', name: 'Ada' });
    const { result: output, job } = structured(result);
    expect(output).toEqual({ id: 'c_mcp_1', name: 'Ada' });
    expect(job).toMatchObject({ tool: 'demo.getContact', status: 'succeeded', attempts: 1 });
    expect(job).not.toHaveProperty('result');
    expect(s.upstream.count((r) => r.path === '/contacts/c_mcp_1')).toBe(1);
    // The same job the REST API shows: one code path.
    const rest = await request(s.h.server).get(`/v1/jobs/${job!.id}`).set(bearer(KEYS.a)).expect(200);
    expect(rest.body).toEqual({ ...job, result: output });
  });

  it('returns a failed job as a tool error: {error: job.error, job}, and text saying not to retry', async () => {
    const a = await connect(KEYS.a);
    const result = await a.call('demo_getContact', { id: 'missing' });
    expect(result.isError).toBe(true);
    expect(structured(result)).toEqual({
      error: { code: 'NOT_FOUND', message: expect.any(String), retryable: false, upstreamStatus: 404 },
      job: expect.objectContaining({ id: expect.stringMatching(/^job_/), tool: 'demo.getContact', status: 'failed' }),
    });
    expect(structured(result).job!.error).toEqual(structured(result).error);
    expect(text(result)).toMatch(/^Job job_\w+ \(demo\.getContact\) failed: NOT_FOUND: /);
    expect(text(result)).toContain('Not retryable');
    expect(lastJsonLine(result)).toEqual(result.structuredContent);
  });

  it('refuses bad input before queueing, with the pointer of the REST API, and no job', async () => {
    const a = await connect(KEYS.a);
    const before = s.upstream.count();
    const result = await a.call('demo_createOrder', { sku: 'sku_1', qty: 0 });
    expect(result.isError).toBe(true);
    expect(structured(result)).toEqual({
      error: { code: 'VALIDATION_ERROR', message: expect.any(String), retryable: false, errors: [{ pointer: '/input/qty', message: expect.any(String) }] },
    });
    expect(text(result)).toMatch(/Nothing was queued\. Not retryable as is: .*\/input\/qty: /);
    expect(s.upstream.count()).toBe(before);
  });

  it('treats a tool outside the scopes as unknown', async () => {
    const b = await connect(KEYS.bNew);
    const result = await b.call('demo_createOrder', { sku: 'sku_1', qty: 1 });
    expect(result.isError).toBe(true);
    expect(structured(result).error).toMatchObject({ code: 'TOOL_NOT_FOUND', retryable: false });
  });

  it('makes a repeated write safe with _meta broker/idempotencyKey', async () => {
    const a = await connect(KEYS.a);
    const meta = { 'broker/idempotencyKey': 'mcp-order-1' };
    const first = await a.call('demo_createOrder', { sku: 'sku_mcp', qty: 2 }, meta);
    const second = await a.call('demo_createOrder', { sku: 'sku_mcp', qty: 2 }, meta);
    expect(first.isError).toBeFalsy();
    expect(structured(first).result).toMatchObject({ sku: 'sku_mcp', qty: 2 });
    expect(structured(second).job!.id).toBe(structured(first).job!.id);
    expect(s.upstream.count((r) => r.path === '/orders' && r.body.includes('sku_mcp'))).toBe(1);
    const reused = await a.call('demo_createOrder', { sku: 'sku_mcp', qty: 3 }, meta);
    expect(structured(reused).error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('answers {job} past the wait bound, not an error, and get_job waits for the result', async () => {
    const a = await connect(KEYS.a);
    const pending = await a.call('demo_getContact', { id: 'slow-400' }, { 'broker/waitMs': 0 });
    expect(pending.isError).toBeFalsy();
    expect(Object.keys(structured(pending))).toEqual(['job']);
    const job = structured(pending).job!;
    expect(['queued', 'running']).toContain(job.status);
    expect(text(pending)).toContain(`get_job with {"id":"${job.id}"`);

    const done = await a.call('get_job', { id: job.id, waitMs: 10_000 });
    expect(done.isError).toBeFalsy();
    expect(structured(done)).toEqual({ job: expect.objectContaining({ id: job.id, status: 'succeeded', result: { id: 'slow-400' } }) });
  });

  it('sends progress notifications while it waits, when the client asks for them', async () => {
    const a = await connect(KEYS.a);
    const messages: string[] = [];
    const before = a.validations.length;
    const result = (await a.client.callTool({ name: 'demo_getContact', arguments: { id: 'slow-1500' } }, CallToolResultSchema, {
      onprogress: (p) => void messages.push(p.message ?? ''),
    })) as CallToolResult;
    expect(structured(result).job).toMatchObject({ status: 'succeeded' });
    expect(a.validations.slice(before)).toEqual([{ valid: true, errorMessage: undefined }]);
    expect(messages[0]).toMatch(/^job_[0-9a-f]{32}: queued$/);
    expect(messages.some((m) => m.includes('running'))).toBe(true);
  });

  it("refuses another agent's job in get_job as NOT_FOUND", async () => {
    const c = await request(s.h.server).post('/v1/jobs').set(bearer(KEYS.c)).send({ tool: 'other.ping', input: {} }).expect(202);
    const a = await connect(KEYS.a);
    const result = await a.call('get_job', { id: c.body.id });
    expect(result.isError).toBe(true);
    expect(structured(result)).toEqual({ error: expect.objectContaining({ code: 'NOT_FOUND', retryable: false }) });
    const bad = await a.call('get_job', { id: 42 });
    expect(structured(bad).error).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: '/id' }] });
  });

  it('runs a retryable failed job again with retry_job, waiting for the re-run; a second retry is CONFLICT', async () => {
    const path = '/contacts/c_mcp_retry';
    // The first call answers 503 (retry.attempts is 1 here: the job fails at once), then the upstream recovers.
    s.upstream.setHandler((req, i) => (req.path === path && s.upstream.count((r) => r.path === path) === 1 ? { status: 503, body: { error: 'busy' } } : demoUpstream(req, i)));
    try {
      const a = await connect(KEYS.a);
      const failed = await a.call('demo_getContact', { id: 'c_mcp_retry' });
      expect(failed.isError).toBe(true);
      const jobId = structured(failed).job!.id;
      expect(structured(failed)).toMatchObject({ error: { code: 'UPSTREAM_ERROR', retryable: true }, job: { id: expect.stringMatching(/^job_/), status: 'failed' } });
      // The text tells an LLM exactly what to call.
      expect(text(failed)).toContain(`Retryable: call retry_job {"id":"${jobId}"}`);

      const retried = await a.call('retry_job', { id: jobId, waitMs: 10_000 });
      expect(retried.isError).toBeFalsy();
      expect(structured(retried)).toEqual({ job: expect.objectContaining({ id: jobId, status: 'succeeded', attempts: 2, result: { id: 'c_mcp_retry', name: 'Ada' } }) });
      expect(s.upstream.count((r) => r.path === path)).toBe(2);

      const again = await a.call('retry_job', { id: jobId });
      expect(again.isError).toBe(true);
      expect(structured(again).error).toMatchObject({ code: 'CONFLICT', retryable: false });
      const bad = await a.call('retry_job', { id: jobId, waitMs: 'soon' });
      expect(structured(bad).error).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: '/waitMs' }] });
    } finally {
      s.upstream.setHandler(demoUpstream);
    }
  });

  it('lists the broker names and output schemas with list_tools', async () => {
    const b = await connect(KEYS.bNew);
    const result = await b.call('list_tools', {});
    expect(structured(result)).toEqual({
      tools: [expect.objectContaining({ name: 'demo.getContact', mcpName: 'demo_getContact', outputSchema: expect.objectContaining({ required: ['id'] }) })],
    });
  });

  it('answers 401 without a valid agent key', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    for (const headers of [{}, bearer('not-a-key')]) {
      const res = await request(s.h.server).post('/mcp').set(headers).set('Accept', 'application/json, text/event-stream').send(init).expect(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    await expect(connect('not-a-key')).rejects.toThrow(/401|Unauthorized/i);
  });

  describe('Origin (DNS rebinding protection)', () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const post = (headers: Record<string, string>) =>
      request(s.h.server).post('/mcp').set(bearer(KEYS.a)).set('Accept', 'application/json, text/event-stream').set(headers).send(init);

    it('refuses a foreign Origin 403 with problem+json, before auth and without an MCP answer', async () => {
      const res = await post({ Host: 'evil.example.com', Origin: 'http://evil.example.com' }).expect(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 403, code: 'FORBIDDEN', detail: expect.stringContaining('http://evil.example.com') });
      expect(res.body.jsonrpc).toBeUndefined();
      expect(res.body.result).toBeUndefined();
      // Before authentication: a bad key is still 403, not 401.
      await request(s.h.server).post('/mcp').set(bearer('not-a-key')).set('Origin', 'http://evil.example.com').send(init).expect(403);
      // A foreign origin on our Host header, and the opaque "null" origin, are refused too.
      const port = new URL(s.baseUrl).port;
      await post({ Host: `127.0.0.1:${port}`, Origin: 'http://evil.example.com' }).expect(403);
      await post({ Origin: 'null' }).expect(403);
      await post({ Origin: `http://127.0.0.1:${Number(port) + 1}` }).expect(403);
      // The same rebinding with the API's port: a DNS name in Host is never trusted as our own.
      await post({ Host: `evil.example.com:${port}`, Origin: `http://evil.example.com:${port}` }).expect(403);
    });

    const expectMcpAnswer = (res: request.Response) => {
      const text = res.text;
      expect(text).toContain('"jsonrpc":"2.0"');
      expect(text).toContain('"serverInfo"');
    };

    it("allows the API's own origin (scheme, host and port the request was addressed to)", async () => {
      expectMcpAnswer(await post({ Origin: s.baseUrl }).expect(200));
      const port = new URL(s.baseUrl).port;
      expectMcpAnswer(await post({ Host: `localhost:${port}`, Origin: `http://localhost:${port}` }).expect(200));
    });

    it('allows an origin listed in mcp.allowedOrigins', async () => {
      expectMcpAnswer(await post({ Origin: 'https://app.example.com' }).expect(200));
      await post({ Origin: 'http://app.example.com' }).expect(403);
    });

    it('allows a request without Origin (non-browser clients), as the SDK client shows', async () => {
      expectMcpAnswer(await post({}).expect(200));
      const a = await connect(KEYS.a);
      expect((await a.client.listTools()).tools.length).toBeGreaterThan(0);
    });
  });

  it('answers 405 to GET, as a stateless server does', async () => {
    await request(s.h.server).get('/mcp').set(bearer(KEYS.a)).expect(405);
  });
});
