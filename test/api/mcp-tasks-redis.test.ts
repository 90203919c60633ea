import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type McpError } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { MAX_APPROVAL_TIMEOUT_SECONDS } from '@broker/shared/config/guardrails-schema';
import { MAX_ASYNC_DEADLINE_MS } from '@broker/shared/config/async-schema';
import { redisKeys } from '@broker/redis/keys';
import { TASK_INDEX_CAP, TaskIndex, taskIndexTtlMs } from '../../apps/api/src/mcp/task-index';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { rpcError } from '../helpers/rpc-error';
import { KEYS, portOf, startApi, type Harness } from './harness';

/**
 * MCP tasks against Redis directly: the agent task index (order, cursor,
 * cap, expiry, failed writes), and every task request answering a Redis
 * outage as the broker's UNAVAILABLE (`-32603`, retryable), never as a bad
 * request nor with the Redis client's own message.
 */

/** Nothing listens on port 1; connections are refused at once. */
const CLOSED_PORT_URL = 'redis://127.0.0.1:1';

describe('the agent task index', () => {
  const prefix = uniquePrefix('mcp-task-index');
  const keys = redisKeys(prefix);
  const RETENTION_MS = 3_600_000;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await dropPrefix(prefix);
  });

  const id = (n: number) => `job_${n.toString(16).padStart(32, '0')}`;

  async function pages(index: TaskIndex, size: number): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await index.page(cursor, size);
      seen.push(...page.ids);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return seen;
  }

  it('pages newest first, ties in the same millisecond by id descending, skipping and repeating none', async () => {
    const index = new TaskIndex(redis, keys, 'agent-order', RETENTION_MS);
    const at = '2026-01-01T00:00:00.000Z';
    for (let n = 1; n <= 7; n++) await index.add(id(n), at);
    await index.add(id(8), '2026-01-01T00:00:00.001Z');
    await index.add(id(0), '2025-12-31T23:59:59.999Z');
    const expected = [id(8), id(7), id(6), id(5), id(4), id(3), id(2), id(1), id(0)];
    for (const size of [1, 2, 3, 4, 20]) expect(await pages(index, size)).toEqual(expected);
  });

  it("goes on after a cursor whose entry has gone, within the entry's millisecond too", async () => {
    const index = new TaskIndex(redis, keys, 'agent-gone', RETENTION_MS);
    const at = '2026-01-01T00:00:00.000Z';
    for (let n = 1; n <= 5; n++) await index.add(id(n), at);
    const first = await index.page(undefined, 2);
    expect(first.ids).toEqual([id(5), id(4)]);
    await index.remove([id(4)]);
    const second = await index.page(first.nextCursor, 2);
    expect(second.ids).toEqual([id(3), id(2)]);
    expect((await index.page(second.nextCursor, 2)).ids).toEqual([id(1)]);
  });

  it('keeps the newest entries up to its cap, whatever their age, and outlives the longest-lived job', async () => {
    expect(TASK_INDEX_CAP).toBe(10_000);
    const index = new TaskIndex(redis, keys, 'agent-cap', RETENTION_MS, 3);
    // Created long ago (a job held or retried that long is still alive): never dropped for its age.
    await index.add(id(1), '2020-01-01T00:00:00.000Z');
    await index.add(id(2), '2020-01-02T00:00:00.000Z');
    await index.add(id(3), '2020-01-03T00:00:00.000Z');
    expect(await pages(index, 20)).toEqual([id(3), id(2), id(1)]);
    await index.add(id(4), '2020-01-04T00:00:00.000Z');
    expect(await pages(index, 20)).toEqual([id(4), id(3), id(2)]);

    const ttl = taskIndexTtlMs(RETENTION_MS);
    expect(ttl).toBe(RETENTION_MS + MAX_APPROVAL_TIMEOUT_SECONDS * 1000 + MAX_ASYNC_DEADLINE_MS);
    const pttl = await redis.pttl(keys.mcpTasks('agent-cap'));
    expect(pttl).toBeGreaterThan(ttl - 60_000);
    expect(pttl).toBeLessThanOrEqual(ttl);
  });

  it('refuses a cursor it did not make with -32602', async () => {
    const index = new TaskIndex(redis, keys, 'agent-cursor', RETENTION_MS);
    for (const bad of ['not-a-cursor', Buffer.from('[1.5,"x"]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
      expect((await rpcError(index.page(bad))).code).toBe(-32602);
    }
  });

  it("fails an add whose commands failed inside the transaction (the MULTI's own replies are checked)", async () => {
    const index = new TaskIndex(redis, keys, 'agent-wrongtype', RETENTION_MS);
    await redis.set(keys.mcpTasks('agent-wrongtype'), 'not a sorted set');
    await expect(index.add(id(1), '2026-01-01T00:00:00.000Z')).rejects.toThrow(/WRONGTYPE/);
  });
});

describe('MCP task requests while Redis refuses connections', () => {
  let h: Harness;
  let client: Client;
  beforeAll(async () => {
    h = await startApi('mcp-tasks-redis-down', { producerUrl: CLOSED_PORT_URL, subscriberUrl: CLOSED_PORT_URL });
    client = new Client({ name: 'tasks-redis-down', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(h.server)}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${KEYS.a}` } } }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await h?.close();
  });

  const someId = 'job_0123456789abcdef0123456789abcdef';

  function expectUnavailable(err: McpError): void {
    expect(err.code).toBe(-32603);
    expect(err.data).toEqual({ code: 'UNAVAILABLE', message: expect.any(String), retryable: true, retryAt: expect.any(String) });
    // The broker's words, not the Redis client's.
    for (const text of [err.message, JSON.stringify(err.data)]) {
      expect(text).not.toMatch(/ECONNREFUSED|writeable|enableOfflineQueue|Connection is closed|Redis did not answer|Failed to list tasks/i);
    }
    expect(err.message).toContain('UNAVAILABLE');
  }

  it('answers tasks/get, tasks/list, tasks/result and tasks/cancel -32603 UNAVAILABLE, retryable', async () => {
    expectUnavailable(await rpcError(client.experimental.tasks.getTask(someId)));
    expectUnavailable(await rpcError(client.experimental.tasks.listTasks()));
    expectUnavailable(await rpcError(client.experimental.tasks.getTaskResult(someId, CallToolResultSchema)));
    expectUnavailable(await rpcError(client.experimental.tasks.cancelTask(someId)));
  });

  it('refuses a task id that cannot be a job id before any Redis command: not found, not unavailable', async () => {
    for (const attempt of [client.experimental.tasks.getTask('job_nope'), client.experimental.tasks.cancelTask('../x')]) {
      const err = await rpcError(attempt);
      expect(err.code).toBe(-32602);
      expect(err.message).toMatch(/Task not found/);
    }
  });
});
