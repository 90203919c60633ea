import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  RELATED_TASK_META_KEY,
  TaskStatusNotificationSchema,
  type CallToolResult,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import request from 'supertest';
import { redisKeys } from '@broker/redis/keys';
import type { PublicJob } from '@broker/shared/jobs/schema';
import { ADMIN_TOKEN, demoUpstream, startStack, type Stack } from '../surface/stack';
import { waitFor } from '../helpers/wait-for';
import { rpcError } from '../helpers/rpc-error';
import { bearer, KEYS } from './harness';

/**
 * MCP tasks (spec 2025-11-25) on /mcp, with the SDK's own client against a
 * real api + worker + Redis (own prefix) and a stub upstream: a task is a
 * job (task id = job id), its status follows the job's (an approval hold is
 * `input_required`), tasks/result answers what a plain tools/call would,
 * tasks/cancel is the broker's cancel, tasks/list pages the agent's own
 * tasks, and no agent sees or touches another's.
 *
 * The upstream path `/contacts/gate-<name>` answers only when the test opens
 * that gate, so a job is held `running` for exactly as long as a test needs.
 */

let s: Stack;
const clients: Client[] = [];
const gates = new Map<string, () => void>();

/** demo.createOrder with qty > 100 is held for an operator. */
const HOLD_RULE = { tools: 'demo.createOrder', when: { pointer: '/input/qty', gt: 100 } };

beforeAll(async () => {
  s = await startStack('mcp-tasks', { overrides: { approvals: [HOLD_RULE] } });
  s.upstream.setHandler(async (req, i) => {
    const gate = /^\/contacts\/gate-([\w-]+)$/.exec(req.path);
    if (!gate) return demoUpstream(req, i);
    await new Promise<void>((open) => gates.set(gate[1]!, open));
    return { status: 200, body: { id: `gate-${gate[1]}`, name: 'Gated' } };
  });
});
afterAll(async () => {
  for (const open of gates.values()) open();
  await Promise.all(clients.map((c) => c.close()));
  await s?.close();
});

async function connect(key: string): Promise<Client> {
  const client = new Client({ name: 'tasks-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${s.baseUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  clients.push(client);
  // Lists the tools: the client then knows which are tasks and validates their results.
  await client.listTools();
  return client;
}

/** A task-augmented tools/call, as the spec describes it: `params.task`, answered by a CreateTaskResult. */
async function callAsTask(client: Client, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) {
  const params = { name, arguments: args, ...(meta ? { _meta: meta } : {}) };
  return client.request({ method: 'tools/call', params }, CreateTaskResultSchema, { task: { ttl: 60_000 } });
}

/** Opens the gate of `/contacts/gate-<name>` once the upstream has been called there. */
async function openGate(name: string): Promise<void> {
  const open = await waitFor(() => gates.get(name), { what: `the upstream call of gate-${name}` });
  gates.delete(name);
  open();
}

const restJob = async (key: string, id: string) => (await request(s.h.server).get(`/v1/jobs/${id}`).set(bearer(key)).expect(200)).body as PublicJob;
const approve = (id: string) => request(s.h.server).post(`/v1/jobs/${id}/approve`).set(bearer(ADMIN_TOKEN)).expect(200);
const structured = (result: CallToolResult) => result.structuredContent as { result?: unknown; job?: PublicJob; error?: Record<string, unknown> };
const isoTime = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

describe('MCP tasks: declared', () => {
  it('advertises tasks (list, cancel, tools/call) and task support on every broker tool, not on the helpers', async () => {
    const a = await connect(KEYS.a);
    expect(a.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const { tools } = await a.listTools();
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]));
    expect(support).toEqual({ demo_getContact: 'optional', demo_createOrder: 'optional', get_job: undefined, retry_job: undefined, list_tools: undefined });
  });
});

describe('a task is a job', () => {
  it('answers the CreateTaskResult at once with the job id as task id; get is working, then completed; result is the tools/call answer', async () => {
    const a = await connect(KEYS.a);
    const created = await callAsTask(a, 'demo_getContact', { id: 'gate-life' });
    const { task } = created;
    expect(task).toEqual({
      taskId: expect.stringMatching(/^job_[0-9a-f]{32}$/),
      status: 'working',
      statusMessage: expect.stringContaining(task.taskId),
      createdAt: isoTime,
      lastUpdatedAt: isoTime,
      ttl: null,
      pollInterval: 2000,
    });
    expect(created._meta?.['io.modelcontextprotocol/model-immediate-response']).toContain(task.taskId);
    // The same job the REST API shows.
    expect(await restJob(KEYS.a, task.taskId)).toMatchObject({ id: task.taskId, tool: 'demo.getContact', createdAt: task.createdAt });

    // Held at the upstream: the job runs, and the task is working.
    await waitFor(() => gates.has('life'), { what: 'the job to reach the upstream' });
    const working = await a.experimental.tasks.getTask(task.taskId);
    expect(working).toMatchObject({ taskId: task.taskId, status: 'working', statusMessage: `Job ${task.taskId} is running (attempt 1).`, ttl: null });

    await openGate('life');
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBeFalsy();
    expect(structured(result)).toEqual({
      result: { id: 'gate-life', name: 'Gated' },
      job: expect.objectContaining({ id: task.taskId, tool: 'demo.getContact', status: 'succeeded', attempts: 1 }),
    });
    expect(structured(result).job).not.toHaveProperty('result');
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual({ id: 'gate-life', name: 'Gated' });
    expect(result._meta?.[RELATED_TASK_META_KEY]).toEqual({ taskId: task.taskId });

    const done = await a.experimental.tasks.getTask(task.taskId);
    const job = await restJob(KEYS.a, task.taskId);
    expect(done).toMatchObject({ status: 'completed', createdAt: task.createdAt, lastUpdatedAt: job.finishedAt });
    // Kept retention.jobSeconds after it finished, counted from its creation.
    expect(done.ttl).toBe(Date.parse(job.finishedAt!) + s.config.retention.jobSeconds * 1000 - Date.parse(task.createdAt));
  });

  it("runs the SDK's own task stream end to end (created, status, validated result)", async () => {
    const a = await connect(KEYS.a);
    const seen: string[] = [];
    let final: CallToolResult | undefined;
    for await (const message of a.experimental.tasks.callToolStream({ name: 'demo_getContact', arguments: { id: 'c_stream' } })) {
      if (message.type === 'error') throw message.error;
      seen.push(message.type === 'taskStatus' ? `status:${message.task.status}` : message.type);
      if (message.type === 'result') final = message.result as CallToolResult;
    }
    expect(seen[0]).toBe('taskCreated');
    expect(seen.slice(-2)).toEqual(['status:completed', 'result']);
    expect(structured(final!).result).toEqual({ id: 'c_stream', name: 'Ada' });
  });

  it('answers a failed job as a failed task whose result is the tool error {error, job}', async () => {
    const a = await connect(KEYS.a);
    const { task } = await callAsTask(a, 'demo_getContact', { id: 'missing' });
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(structured(result)).toEqual({
      error: { code: 'NOT_FOUND', message: expect.any(String), retryable: false, upstreamStatus: 404 },
      job: expect.objectContaining({ id: task.taskId, status: 'failed' }),
    });
    expect(await a.experimental.tasks.getTask(task.taskId)).toMatchObject({ status: 'failed', statusMessage: expect.stringContaining('NOT_FOUND') });
  });

  it('refuses a call it cannot queue with a JSON-RPC error carrying the broker error, and queues nothing', async () => {
    const a = await connect(KEYS.a);
    const jobsBefore = await s.h.jobKeyCount();
    const bad = await rpcError(callAsTask(a, 'demo_createOrder', { sku: 'sku_1', qty: 0 }));
    expect(bad.code).toBe(-32602);
    expect(bad.data).toMatchObject({ code: 'VALIDATION_ERROR', retryable: false, errors: [{ pointer: '/input/qty' }] });
    const unknown = await rpcError(callAsTask(a, 'demo_nope', {}));
    expect(unknown).toMatchObject({ code: -32602, data: { code: 'TOOL_NOT_FOUND' } });
    // Helpers declare no task support: the spec's -32601.
    expect((await rpcError(callAsTask(a, 'get_job', { id: 'job_x' }))).code).toBe(-32601);
    expect(await s.h.jobKeyCount()).toBe(jobsBefore);
  });

  it('answers the task, queues one job, and serves it when the task index cannot be written', async () => {
    const a = await connect(KEYS.a);
    const indexKey = redisKeys(s.h.prefix).mcpTasks('agent-a');
    // Not a sorted set: the index's write fails inside its transaction, after the job is queued.
    await s.h.redis.set(indexKey, 'not a sorted set');
    try {
      const jobsBefore = await s.h.jobKeyCount();
      const { task } = await callAsTask(a, 'demo_createOrder', { sku: 'sku_unindexed', qty: 300 });
      expect(task).toMatchObject({ taskId: expect.stringMatching(/^job_/), status: 'working' });
      expect(await s.h.jobKeyCount()).toBe(jobsBefore + 1);
      // Served by its record, which says it is a task.
      expect(await a.experimental.tasks.getTask(task.taskId)).toMatchObject({ status: 'input_required' });
      expect(await a.experimental.tasks.cancelTask(task.taskId)).toMatchObject({ status: 'cancelled' });
      expect(structured(await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)).error).toMatchObject({ code: 'CONFLICT' });
    } finally {
      await s.h.redis.del(indexKey);
    }
  });

  it('serves only jobs created as tasks: a plain call is not a task', async () => {
    const a = await connect(KEYS.a);
    const plain = (await a.callTool({ name: 'demo_getContact', arguments: { id: 'c_plain' } })) as CallToolResult;
    const id = structured(plain).job!.id;
    expect((await rpcError(a.experimental.tasks.getTask(id))).code).toBe(-32602);

    // A task-augmented call that replays a plain call's job by its idempotency key makes that job a task.
    const keyed = { 'broker/idempotencyKey': `replay-${id}` };
    const first = (await a.callTool({ name: 'demo_getContact', arguments: { id: 'c_replay' }, _meta: keyed })) as CallToolResult;
    const replayedId = structured(first).job!.id;
    expect((await rpcError(a.experimental.tasks.getTask(replayedId))).code).toBe(-32602);
    const { task } = await callAsTask(a, 'demo_getContact', { id: 'c_replay' }, keyed);
    expect(task.taskId).toBe(replayedId);
    expect(await a.experimental.tasks.getTask(replayedId)).toMatchObject({ taskId: replayedId, status: 'completed' });
  });
});

describe('an approval hold', () => {
  it('is input_required; tasks/result waits for the decision, sending status notifications, then answers the result', async () => {
    const a = await connect(KEYS.a);
    const notified: Task[] = [];
    a.setNotificationHandler(TaskStatusNotificationSchema, (n) => void notified.push(n.params as Task));
    const { task } = await callAsTask(a, 'demo_createOrder', { sku: 'sku_held', qty: 500 });
    expect(task.status).toBe('working');
    const held = await a.experimental.tasks.getTask(task.taskId);
    expect(held).toMatchObject({ status: 'input_required', pollInterval: 10_000, statusMessage: expect.stringContaining("awaits an operator's approval until") });
    expect(s.upstream.count((r) => r.path === '/orders' && r.body.includes('sku_held'))).toBe(0);

    // Bounded: asked to wait 0 ms, it says the task is still waiting, and the task goes on.
    const bounded = await rpcError(a.request({ method: 'tasks/result', params: { taskId: task.taskId, _meta: { 'broker/waitMs': 0 } } }, CallToolResultSchema));
    expect(bounded).toMatchObject({ code: -32001, data: { status: 'input_required', pollInterval: 10_000 } });
    // What a client (the SDK's callToolStream ends here) should do: the task carries on; poll tasks/get.
    expect(bounded.message).toMatch(/still input_required after 0 s; the task carries on\. .*Poll tasks\/get/);

    const waiting = a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    // The wait has read the task and sleeps on the job's events: decide now.
    await waitFor(() => s.h.api.waiting() > 0, { what: 'tasks/result to wait' });
    await approve(task.taskId);
    const result = await waiting;
    expect(structured(result)).toMatchObject({ result: { sku: 'sku_held', qty: 500 }, job: { id: task.taskId, status: 'succeeded' } });
    expect(notified.length).toBeGreaterThan(0);
    expect(notified.at(-1)).toMatchObject({ taskId: task.taskId, status: 'completed' });
    expect(notified.every((t) => t.taskId === task.taskId && ['working', 'completed'].includes(t.status))).toBe(true);
  });
});

describe('tasks/cancel', () => {
  it("cancels a job that has not started: the task is cancelled, and its result is the tool's CONFLICT error", async () => {
    const a = await connect(KEYS.a);
    const { task } = await callAsTask(a, 'demo_createOrder', { sku: 'sku_cancel', qty: 900 });
    const cancelled = await a.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: 'cancelled', statusMessage: expect.stringContaining('cancelled') });
    expect((await restJob(KEYS.a, task.taskId)).status).toBe('cancelled');
    expect(await a.experimental.tasks.getTask(task.taskId)).toMatchObject({ status: 'cancelled' });
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(structured(result).error).toMatchObject({ code: 'CONFLICT', retryable: false });
    // Terminal now: the spec's -32602.
    expect((await rpcError(a.experimental.tasks.cancelTask(task.taskId))).code).toBe(-32602);
  });

  it('refuses to cancel a job that is running, with the broker’s reason; the job runs on', async () => {
    const a = await connect(KEYS.a);
    const { task } = await callAsTask(a, 'demo_getContact', { id: 'gate-cancel' });
    await waitFor(() => gates.has('cancel'), { what: 'the job to reach the upstream' });
    const refused = await rpcError(a.experimental.tasks.cancelTask(task.taskId));
    expect(refused.code).toBe(-32600);
    expect(refused.message).toContain('The job is running; only queued, deferred or awaiting_approval jobs can be cancelled.');
    expect(refused.data).toMatchObject({ code: 'CONFLICT', status: 'running', retryable: false });
    await openGate('cancel');
    expect((await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)).isError).toBeFalsy();
  });
});

describe('tasks/list', () => {
  it("pages the agent's own tasks, newest first (then by id), with an opaque cursor; a bad cursor is -32602", async () => {
    const c = await connect(KEYS.c);
    const created: Task[] = [];
    for (let i = 0; i < 23; i++) created.push((await callAsTask(c, 'demo_getContact', { id: `c_list_${i}` })).task);

    const first = await c.experimental.tasks.listTasks();
    expect(first.tasks).toHaveLength(20);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await c.experimental.tasks.listTasks(first.nextCursor);
    expect(second.nextCursor).toBeUndefined();
    const listed = [...first.tasks, ...second.tasks].map((t) => t.taskId);
    // The documented order: createdAt descending, then task id descending (tasks of one millisecond).
    const byOrder = (x: Task, y: Task) => Date.parse(y.createdAt) - Date.parse(x.createdAt) || (y.taskId < x.taskId ? -1 : y.taskId > x.taskId ? 1 : 0);
    expect(listed).toEqual([...created].sort(byOrder).map((t) => t.taskId));
    for (const t of first.tasks) expect(t).toMatchObject({ taskId: expect.stringMatching(/^job_/), createdAt: isoTime, lastUpdatedAt: isoTime });

    expect((await rpcError(c.experimental.tasks.listTasks('not-a-cursor'))).code).toBe(-32602);
  });
});

describe('tenant isolation', () => {
  it("lets no agent get, wait for, cancel or list another agent's task", async () => {
    const a = await connect(KEYS.a);
    const b = await connect(KEYS.bNew);
    const { task } = await callAsTask(a, 'demo_createOrder', { sku: 'sku_private', qty: 700 });

    for (const attempt of [
      b.experimental.tasks.getTask(task.taskId),
      b.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema),
      b.experimental.tasks.cancelTask(task.taskId),
    ]) {
      const err = await rpcError(attempt);
      expect(err.code).toBe(-32602);
      expect(err.message).toMatch(/Task not found/);
    }
    expect((await b.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(task.taskId);
    // Untouched: still held, still A's.
    expect(await a.experimental.tasks.getTask(task.taskId)).toMatchObject({ status: 'input_required' });
    expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(task.taskId);
    await a.experimental.tasks.cancelTask(task.taskId);
  });
});
