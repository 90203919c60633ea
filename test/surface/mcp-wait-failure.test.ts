import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import request from 'supertest';
import { KEYS, portOf, startApi, type Harness } from '../api/harness';
import { StallingRedisProxy } from '../api/stalling-redis-proxy';
import { waitFor } from '../helpers/wait-for';
import { connectValidating, lastJsonLine, type ValidatingClient } from './mcp-client';

/**
 * A plain MCP tools/call whose job was queued, then whose wait for the result
 * could not read the job (Redis answers held past the producer's deadline):
 * the answer is the job, queued, with its id to poll, never a refusal saying
 * "Nothing was queued. Retryable", which would have an agent without an
 * idempotency key submit the same write again. Real Redis behind a TCP proxy
 * that holds its answers (stalling-redis-proxy.ts), the SDK's own client; no
 * worker, so the job stays queued where the test can count it.
 */

let proxy: StallingRedisProxy;
let h: Harness;
let client: ValidatingClient;

beforeAll(async () => {
  proxy = await StallingRedisProxy.start();
  h = await startApi('mcp-wait-failure', { producerUrl: proxy.url });
  const server = h.server;
  await waitFor(async () => ((await request(server).get('/readyz')).status === 200 ? true : undefined), { what: '/readyz to answer 200' });
  client = await connectValidating(`http://127.0.0.1:${portOf(server)}/mcp`, KEYS.a);
});
afterAll(async () => {
  await client?.client.close();
  await h?.close();
  await proxy?.close();
});

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

it('answers with the queued job when reading it fails during the wait, and the job exists once', async () => {
  // The first read of a job record on the api's connection after this is the wait's: submitting reads none.
  const isJobRead = (args: string[]) => args[0]?.toLowerCase() === 'hgetall' && (args[1]?.startsWith(`${h.prefix}:job:`) ?? false);
  let releasedFirst = false;
  const released = proxy.stallAfter(isJobRead, 2500).then(() => {
    releasedFirst = true;
  });

  const answer = await client.call('demo_createOrder', { sku: 'sku_stalled', qty: 1 });
  // Answered while Redis still held the wait's read: the read failed (deadline), and that did not refuse the call.
  expect(releasedFirst).toBe(false);
  expect(text(answer)).not.toMatch(/Nothing was queued|UNAVAILABLE/);
  expect(answer.isError).toBeFalsy();
  expect(answer.structuredContent).toEqual({ job: expect.objectContaining({ id: expect.stringMatching(/^job_[0-9a-f]{32}$/), tool: 'demo.createOrder', status: 'queued' }) });
  const id = (answer.structuredContent as { job: { id: string } }).job.id;
  expect(text(answer)).toContain(`Job ${id} is queued. Call get_job with {"id":"${id}"`);
  expect(lastJsonLine(answer)).toEqual(answer.structuredContent);

  await released;
  // One job, as the answer said: a record and a queued BullMQ job, the ones get_job reads.
  expect(await h.jobKeyCount()).toBe(1);
  expect(await h.queuedCount()).toBe(1);
  const polled = await client.call('get_job', { id });
  expect(polled.structuredContent).toEqual({ job: expect.objectContaining({ id, status: 'queued' }) });
});
