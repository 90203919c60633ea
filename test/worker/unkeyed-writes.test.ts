import { Queue } from 'bullmq';
import { parseConfig } from '@broker/shared/config/load';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { TERMINAL_STATUSES } from '@broker/shared/jobs/schema';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * No write is applied twice (docs/api.md#guarantees), for writes the upstream cannot
 * deduplicate: every try carries the job id as `clientRef`, and a try that
 * may have reached the upstream is looked up by it before anything is sent
 * again. The stub is an order API without idempotency keys: every POST makes
 * an order, and each order's body says how the stub plays it (apply then
 * answer 502, drop the answer, refuse with 429…).
 */
const prefix = uniquePrefix('unkeyed');
let stub: StubServer;
let rig: WorkerRig;
let config: BrokerConfig;

interface Order {
  id: string;
  clientRef: string;
  sku: string;
}

/** Orders the stub made, in order: more than one per clientRef is a write applied twice. */
const orders: Order[] = [];
/** Refs whose lookup answers 500. */
const failingLookups = new Set<string>();
/** Refs whose lookup is answered 401 after another try claimed the job (its resend must not go). */
const stolenLookups = new Set<string>();
/** Refs whose lookup gets this answer (one the broker cannot tell from, from an upstream that is up). */
const lookupAnswers = new Map<string, StubReply>();

/** What the stub does with the n-th POST (0-based) of an order, by its `play`. */
type Play = (n: number, req: StubRequest) => { apply: boolean; reply?: StubReply } | Promise<{ apply: boolean; reply?: StubReply }>;
/** Applied, then answered 502; its lookup gets `answer`. */
const appliedThenLookupAnswered =
  (answer: StubReply): Play =>
  (n, req) => {
    lookupAnswers.set(clientRefOf(req), answer);
    return n === 0 ? { apply: true, reply: { status: 502 } } : { apply: true };
  };
const plays: Record<string, Play> = {
  ok: () => ({ apply: true }),
  // Applied, and answered with a body the output schema refuses.
  'applied-bad-body': () => ({ apply: true, reply: { status: 201, body: { made: true } } }),
  'applied-then-502': (n) => (n === 0 ? { apply: true, reply: { status: 502, body: { error: 'bad gateway' } } } : { apply: true }),
  'dropped-502': (n) => (n === 0 ? { apply: false, reply: { status: 502 } } : { apply: true }),
  'applied-then-hang': (n) => (n === 0 ? { apply: true, reply: { hang: true } } : { apply: true }),
  'throttled-then-ok': (n) => (n === 0 ? { apply: false, reply: { status: 429, headers: { 'Retry-After': '0' } } } : { apply: true }),
  'applied-lookup-fails': (n, req) => {
    failingLookups.add(clientRefOf(req));
    return n === 0 ? { apply: true, reply: { status: 502 } } : { apply: true };
  },
  'applied-then-502-lookup-stolen': (n, req) => {
    stolenLookups.add(clientRefOf(req));
    return n === 0 ? { apply: true, reply: { status: 502 } } : { apply: true };
  },
  'applied-then-502-lookup-403': appliedThenLookupAnswered({ status: 403, body: { error: 'the key may not read orders' } }),
  'applied-then-502-lookup-400': appliedThenLookupAnswered({ status: 400, body: { error: 'clientRef is not a filter' } }),
  'applied-then-502-lookup-422': appliedThenLookupAnswered({ status: 422, body: { error: 'clientRef: bad format' } }),
  'applied-then-502-lookup-html': appliedThenLookupAnswered({ status: 200, raw: '<html>back soon</html>', headers: { 'content-type': 'text/html' } }),
  // Another try claims the job while this one waits for its 401's resend: the resend must not go.
  'stolen-then-401': async (_n, req) => {
    await rig.jobs.store.claimTry(clientRefOf(req), 'thief');
    return { apply: false, reply: { status: 401, body: { error: 'token expired' } } };
  },
};

const clientRefOf = (req: StubRequest) => String((JSON.parse(req.body) as { clientRef?: unknown }).clientRef);
const postsOf = (ref: string) => stub.requests.filter((r) => r.method === 'POST' && r.path === '/orders' && clientRefOf(r) === ref);
const lookupsOf = (ref: string) => stub.requests.filter((r) => r.method === 'GET' && r.path === '/orders' && r.query.get('clientRef') === ref);
const ordersOf = (ref: string) => orders.filter((o) => o.clientRef === ref);

async function handle(req: StubRequest): Promise<StubReply> {
  if (req.path !== '/orders') return { status: 404 };
  if (req.method === 'GET') {
    const ref = req.query.get('clientRef') ?? '';
    if (failingLookups.has(ref)) return { status: 500, body: { error: 'search is down' } };
    const answer = lookupAnswers.get(ref);
    if (answer) return answer;
    if (stolenLookups.has(ref) && lookupsOf(ref).length === 1) {
      await rig.jobs.store.claimTry(ref, 'thief');
      return { status: 401, body: { error: 'token expired' } };
    }
    return { status: 200, body: { data: ordersOf(ref) } };
  }
  const body = JSON.parse(req.body) as { clientRef: string; sku: string; play: string };
  const n = postsOf(body.clientRef).length - 1;
  const { apply, reply } = await plays[body.play]!(n, req);
  let order: Order | undefined;
  if (apply) {
    order = { id: `ord_${orders.length + 1}`, clientRef: body.clientRef, sku: body.sku };
    orders.push(order);
  }
  return reply ?? { status: 201, body: order };
}

const orderTool = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  method: 'POST',
  path: '/orders',
  input: { type: 'object', required: ['sku', 'play'], properties: { sku: { type: 'string' }, play: { type: 'string' } } },
  output: { type: 'object', required: ['id', 'clientRef'], properties: { id: { type: 'string' }, clientRef: { type: 'string' } } },
  ...extra,
});
const lookedUp = {
  reference: { in: 'body', name: 'clientRef' },
  verify: { method: 'GET', path: '/orders', query: { clientRef: '{reference}' }, found: '/data/0' },
};
const integration = (attempts: number, tools: unknown[]) => ({
  baseUrl: stub.url,
  auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'SHOP_KEY' },
  // The lookup waits as long as a try waits for its answer: short here.
  timeoutMs: 300,
  retry: { attempts, baseDelayMs: 10, maxDelayMs: 40 },
  circuitBreaker: { failureThreshold: 1000, recoveryTimeoutMs: 1000 },
  tools,
});

beforeAll(async () => {
  stub = await StubServer.start(handle);
  config = parseConfig({
    integrations: {
      shop: integration(3, [
        orderTool('shop.createOrder', lookedUp),
        // The same write, without a way to find what a try did.
        orderTool('shop.createOrderBlind', { reference: { in: 'body', name: 'clientRef' } }),
      ]),
      // One attempt: a try that may have applied the write is looked up by a run that sends nothing.
      once: integration(1, [orderTool('once.createOrder', lookedUp)]),
      // A lookup 1.5 s after the failed try: long enough to try to cancel meanwhile.
      slow: { ...integration(2, [orderTool('slow.createOrder', lookedUp)]), timeoutMs: 1500 },
      // One attempt: a try Redis fails is the job's last.
      escaped: integration(1, [
        orderTool('escaped.createOrderBlind', { reference: { in: 'body', name: 'clientRef' } }),
        { name: 'escaped.listOrders', method: 'GET', path: '/orders', input: { type: 'object', properties: { sku: { type: 'string' } } } },
      ]),
      // A breaker that opens on the third failure in a row, and stays open long past any wait below.
      guarded: { ...integration(3, [orderTool('guarded.createOrder', lookedUp)]), circuitBreaker: { failureThreshold: 3, recoveryTimeoutMs: 60_000 } },
      // Backoff long enough to mend Redis between two tries.
      mended: {
        ...integration(5, [orderTool('mended.createOrderBlind', { reference: { in: 'body', name: 'clientRef' } })]),
        retry: { attempts: 5, baseDelayMs: 300, maxDelayMs: 300 },
      },
    },
  });
  rig = await startWorkerRig(config, prefix, { SHOP_KEY: 'sk_shop' });
});

afterAll(async () => {
  await rig.close();
  await stub.close();
});

async function run(tool: string, play: string) {
  const id = await rig.jobs.submit(tool, { sku: `sku-${play}`, play });
  return { id, job: await rig.jobs.settled(id) };
}

describe('a write without an idempotency key whose try may have reached the upstream', () => {
  it('applied, then answered 502: looked up by its reference and found; one order, the job succeeds with it', async () => {
    const { id, job } = await run('shop.createOrder', 'applied-then-502');
    expect(postsOf(id)).toHaveLength(1);
    expect(ordersOf(id)).toHaveLength(1);
    expect(lookupsOf(id)).toHaveLength(1);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: ordersOf(id)[0]!.id, clientRef: id } });
  });

  it('not applied, answered 502: the lookup finds nothing, so it is sent again with the same reference; one order', async () => {
    const { id, job } = await run('shop.createOrder', 'dropped-502');
    expect(postsOf(id).map(clientRefOf)).toEqual([id, id]);
    expect(lookupsOf(id)).toHaveLength(1);
    // Looked up after the 502, before the second POST.
    expect(lookupsOf(id)[0]!.at).toBeGreaterThanOrEqual(postsOf(id)[0]!.at);
    expect(lookupsOf(id)[0]!.at).toBeLessThanOrEqual(postsOf(id)[1]!.at);
    expect(ordersOf(id)).toHaveLength(1);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { clientRef: id } });
  });

  it('applied, then no answer (timeout): found by the lookup; one order', async () => {
    const { id, job } = await run('shop.createOrder', 'applied-then-hang');
    expect(postsOf(id)).toHaveLength(1);
    expect(ordersOf(id)).toHaveLength(1);
    expect(job).toMatchObject({ status: 'succeeded', result: { id: ordersOf(id)[0]!.id } });
  });

  it('a lookup that cannot tell (500) ends OUTCOME_UNKNOWN, saying so, and sends nothing more', async () => {
    const { id, job } = await run('shop.createOrder', 'applied-lookup-fails');
    expect(postsOf(id)).toHaveLength(1);
    expect(lookupsOf(id)).toHaveLength(1);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(job.error?.message).toMatch(/looking it up by its reference .* could not tell/);
  });

  it('without verify: OUTCOME_UNKNOWN after the 502, one POST, no lookup', async () => {
    const { id, job } = await run('shop.createOrderBlind', 'applied-then-502');
    expect(postsOf(id)).toHaveLength(1);
    expect(lookupsOf(id)).toHaveLength(0);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
  });

  it('a 429 proves nothing was done: retried without a lookup, one order', async () => {
    const { id, job } = await run('shop.createOrder', 'throttled-then-ok');
    expect(postsOf(id)).toHaveLength(2);
    expect(lookupsOf(id)).toHaveLength(0);
    expect(ordersOf(id)).toHaveLength(1);
    expect(job.status).toBe('succeeded');
  });
});

describe('a lookup that cannot tell, and the circuit breaker', () => {
  it('a lookup answered 400/403/422, or a 200 that is not JSON, is no upstream failure: failureThreshold + 1 such jobs leave the breaker closed', async () => {
    const circuit = redisKeys(prefix).circuit('guarded');
    // failureThreshold is 3: four jobs, one after another. Each try answers 502 (a failure), then the
    // lookup cannot tell: a 4xx resets the count, a 200 that is not JSON leaves it (the 502 before
    // it was a failure). Counted as failures, the lookups would let the second job's 502 open the breaker.
    const kinds = [
      { kind: 'html', upstreamStatus: undefined },
      { kind: '403', upstreamStatus: 403 },
      { kind: '400', upstreamStatus: 400 },
      { kind: '422', upstreamStatus: 422 },
    ];
    for (const { kind, upstreamStatus } of kinds) {
      const id = await rig.jobs.submit('guarded.createOrder', { sku: `sku-guarded-${kind}`, play: `applied-then-502-lookup-${kind}` });
      const ended = await waitFor(
        async () => {
          if (await rig.redis.hget(circuit, 'openedAt')) return 'the circuit breaker opened';
          const record = await rig.jobs.store.get(id);
          return record && TERMINAL_STATUSES.has(record.status) ? record : undefined;
        },
        { timeoutMs: 10_000, what: `job ${id} to end, or the breaker to open` },
      );
      expect(ended).toMatchObject({ status: 'failed', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
      // The lookup's own answer stays on the error: the agent sees why it could not tell.
      expect(typeof ended === 'object' && ended.error?.upstreamStatus).toBe(upstreamStatus);
      expect(postsOf(id)).toHaveLength(1);
      expect(lookupsOf(id)).toHaveLength(1);
    }
    expect(await rig.redis.hget(circuit, 'openedAt')).toBeNull();
    expect((await rig.redis.hget(circuit, 'state')) ?? 'closed').toBe('closed');
  });
});

describe('the last attempt may have applied the write', () => {
  it('one more run looks it up and sends nothing: found, the job succeeds without spending an attempt', async () => {
    const { id, job } = await run('once.createOrder', 'applied-then-502');
    expect(postsOf(id)).toHaveLength(1);
    expect(lookupsOf(id)).toHaveLength(1);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { id: ordersOf(id)[0]!.id } });
  });

  it("absent, the job fails with the last try's own error, still retryable by the agent", async () => {
    const { id, job } = await run('once.createOrder', 'dropped-502');
    expect(postsOf(id)).toHaveLength(1);
    expect(lookupsOf(id)).toHaveLength(1);
    expect(ordersOf(id)).toHaveLength(0);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR', retryable: true, upstreamStatus: 502 } });
  });
});

describe('while the broker is about to look an earlier try up', () => {
  it('the agent cannot cancel the job (it may have been applied); the lookup then finds it', async () => {
    const id = await rig.jobs.submit('slow.createOrder', { sku: 'sku-cancel', play: 'applied-then-502' });
    await waitFor(async () => postsOf(id).length === 1 && (await rig.jobs.store.get(id))?.status === 'queued', { timeoutMs: 5000, what: 'the 502 and the wait for the lookup' });
    expect(await rig.jobs.store.cancel(id, 'agent-test')).toEqual({ kind: 'uncertain', status: 'queued' });
    const job = await rig.jobs.settled(id);
    expect(job).toMatchObject({ status: 'succeeded', result: { clientRef: id } });
    expect(postsOf(id)).toHaveLength(1);
  });
});

describe('a try whose job another try claimed (its worker lost the lock)', () => {
  it('fenced out in the middle of a lookup, it leaves the job alone: no OUTCOME_UNKNOWN written over the other try', async () => {
    const id = await rig.jobs.submit('once.createOrder', { sku: 'sku-stolen-lookup', play: 'applied-then-502-lookup-stolen' });
    await waitFor(async () => (await rig.jobs.queue('once').getJob(id))?.isFailed(), { timeoutMs: 10_000, what: 'the fenced-out try to end' });
    expect(lookupsOf(id)).toHaveLength(1);
    expect(postsOf(id)).toHaveLength(1);
    const record = await rig.jobs.store.get(id);
    expect(record).toMatchObject({ status: 'running' });
    expect(await rig.jobs.store.holdsClaim(id, 'thief')).toBe(true);
  });

  it('sends nothing more and leaves the job record to the try that claimed it', async () => {
    const id = await rig.jobs.submit('once.createOrder', { sku: 'sku-stolen', play: 'stolen-then-401' });
    const bullJob = await waitFor(
      async () => {
        const job = await rig.jobs.queue('once').getJob(id);
        return job && (await job.isFailed()) ? job : undefined;
      },
      { timeoutMs: 10_000, what: 'the fenced-out try to end' },
    );
    // The 401 would have been resent once with fresh credentials; the fence stopped it.
    expect(postsOf(id)).toHaveLength(1);
    expect(bullJob.failedReason).toMatch(/another try claimed job/);
    const record = await rig.jobs.store.get(id);
    expect(record).toMatchObject({ status: 'running' });
    expect(record?.error).toBeUndefined();
    expect(await rig.jobs.store.holdsClaim(id, 'thief')).toBe(true);
  });
});

describe('a try that Redis failed before anything was sent', () => {
  it('gives its claim back: the next try sends the write rather than taking it for one interrupted mid-call; one order', async () => {
    // The breaker's state is a hash: a string in its place makes its script fail (WRONGTYPE), after the claim succeeded.
    const circuit = redisKeys(prefix).circuit('mended');
    await rig.redis.set(circuit, 'not a hash');
    const name = integrationQueueName('mended');
    const queue = new Queue(name, { connection: rig.redis, prefix: bullPrefix(prefix, name) });
    try {
      const id = await rig.jobs.submit('mended.createOrderBlind', { sku: 'sku-mended', play: 'ok' });
      await waitFor(async () => ((await queue.getJob(id))?.attemptsMade ?? 0) >= 1, { what: 'a try failed by Redis' });
      expect(postsOf(id)).toHaveLength(0);
      await rig.redis.del(circuit);
      const job = await rig.jobs.settled(id);
      expect(job).toMatchObject({ status: 'succeeded', result: { clientRef: id } });
      expect(postsOf(id)).toHaveLength(1);
    } finally {
      await queue.close();
    }
  });
});

describe('a final failure that escaped the try, while an earlier try was under way', () => {
  /** The job's record left `running` by a try whose worker died, then its re-run failed by Redis (a broken breaker state). */
  async function failEscaped(tool: string, input: Record<string, unknown>) {
    const worker = rig.worker.workers.get('escaped')!;
    const circuit = redisKeys(prefix).circuit('escaped');
    await worker.pause();
    try {
      const id = await rig.jobs.submit(tool, input);
      await rig.jobs.store.claimTry(id, 'a-worker-that-died');
      await rig.redis.set(circuit, 'not a hash');
      worker.resume();
      const job = await rig.jobs.settled(id);
      const name = integrationQueueName('escaped');
      const queue = new Queue(name, { connection: rig.redis, prefix: bullPrefix(prefix, name) });
      const data = (await queue.getJob(id))?.data;
      await queue.close();
      return { id, job, data };
    } finally {
      worker.resume();
      await rig.redis.del(circuit);
    }
  }

  it('a write without an idempotency key ends OUTCOME_UNKNOWN and is marked for a lookup before any resend', async () => {
    const { id, job, data } = await failEscaped('escaped.createOrderBlind', { sku: 'sku-escaped', play: 'ok' });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
    expect(data).toMatchObject({ mayHaveApplied: true });
    expect(postsOf(id)).toHaveLength(0);
  });

  it('a read ends UNKNOWN, unmarked', async () => {
    const { job, data } = await failEscaped('escaped.listOrders', { sku: 'sku-read' });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'UNKNOWN' } });
    expect(data?.mayHaveApplied).toBeUndefined();
  });
});

describe("an operator's retry of a failed write that reached the upstream", () => {
  it('a 2xx whose body broke the output schema marks the job; the retry, as `broker jobs retry-failed` makes it, sends nothing', async () => {
    const { id, job } = await run('shop.createOrderBlind', 'applied-bad-body');
    expect(job).toMatchObject({ status: 'failed', error: { code: 'SCHEMA_MISMATCH' } });
    const name = integrationQueueName('shop');
    const queue = new Queue(name, { connection: rig.redis, prefix: bullPrefix(prefix, name) });
    try {
      const failed = (await queue.getJob(id))!;
      expect(failed.data).toMatchObject({ mayHaveApplied: true });
      // What the CLI does (apps/cli/src/commands/jobs-retry-failed.ts): reopen the record, retry the BullMQ job.
      expect(await rig.jobs.store.reopen(id)).toBe('reopened');
      await waitFor(async () => (await failed.getState()) === 'failed', { what: 'the BullMQ job to be failed' });
      await failed.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      await waitFor(async () => (await rig.jobs.store.get(id))?.status === 'failed', { what: 'the re-run to end' });
      expect(await rig.jobs.store.get(id)).toMatchObject({ status: 'failed', error: { code: 'OUTCOME_UNKNOWN' } });
      expect(postsOf(id)).toHaveLength(1);
      expect(ordersOf(id)).toHaveLength(1);
    } finally {
      await queue.close();
    }
  });
});
