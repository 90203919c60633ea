import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import request from 'supertest';
import { giveBackSpend, spendCapId } from '@broker/redis/limits/spend-reservations';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { SpendCaps } from '../../apps/api/src/limits/spend-caps';
import { startWorkerBeside, testLogger } from '../helpers/broker';
import { StubServer, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { bearer, portOf, startApi, testConfig, type Harness } from './harness';

/*
 * Spend caps (`agents[].spendCaps`, docs/guardrails.md#spend-caps) against a real api + worker +
 * Redis and a counting stub upstream: the sum of an input field over an
 * agent's accepted jobs per UTC day never exceeds `max`, reserved atomically
 * at submit; a cancelled job, and one that failed before any upstream
 * request, give their amounts back; one that reached the upstream does not.
 */

/** A charge: `amount` is what the spend caps sum; the tool's own schema leaves it free, so the cap's check is what refuses a bad one. */
const payCharge = {
  name: 'pay.charge',
  method: 'POST',
  path: '/charges',
  idempotent: true,
  input: { type: 'object', required: ['ref'], properties: { ref: { type: 'string' } } },
} as const;

/** An integration whose API key secret is never set: its jobs fail AUTHENTICATION_FAILED before any request. */
const lockedCharge = { ...payCharge, name: 'locked.charge', path: '/locked/charges' } as const;
/** An integration no worker runs here: its jobs stay queued, to be cancelled. */
const parkedCharge = { ...payCharge, name: 'parked.charge', path: '/parked/charges' } as const;

const AMOUNT = '/input/amount';
const cap = (tools: string, max: number, sum = AMOUNT) => ({ tools, sum, max, per: 'day' });

/** One agent per scenario, so each has its own day of totals. */
const AGENTS = {
  burst: [cap('pay.*', 100)],
  replay: [cap('pay.*', 100)],
  cancel: [cap('*', 100)],
  before: [cap('*', 100)],
  after: [cap('pay.*', 100)],
  multi: [cap('pay.*', 100), cap('pay.charge', 10, '/input/fee')],
  invalid: [cap('pay.*', 100)],
  mcp: [cap('pay.*', 100)],
  retried: [cap('pay.*', 1000)],
} as const;
type AgentName = keyof typeof AGENTS;
const keyOf = (name: AgentName) => `key-spend-${name}`;
const agentId = (name: AgentName) => `spend-${name}`;
const auth = (name: AgentName) => bearer(keyOf(name));

let upstream: StubServer;
let h: Harness;
let config: BrokerConfig;
let stopWorker: (() => Promise<void>) | undefined;
const clients: Client[] = [];

/** 400 for a charge whose ref starts with `reject`: the job fails after its request reached the upstream. */
function answer(req: StubRequest) {
  const body = JSON.parse(req.body || '{}') as { ref?: string };
  if (body.ref?.startsWith('reject')) return { status: 400, body: { error: 'card_declined' } };
  return { status: 201, body: { id: `ch_${body.ref ?? ''}`, ...body } };
}
const callsFor = (prefix: string) => upstream.count((r) => r.path === '/charges' && (JSON.parse(r.body || '{}') as { ref?: string }).ref?.startsWith(prefix) === true);

const charge = (name: AgentName, amount: unknown, ref: string, extra: Record<string, unknown> = {}, tool = 'pay.charge') =>
  request(h.server)
    .post('/v1/jobs')
    .set(auth(name))
    .send({ tool, input: { ref, amount, ...extra } });

const today = () => new Date().toISOString().slice(0, 10);
const totals = (name: AgentName) => h.redis.hgetall(redisKeys(h.prefix).spendTotals(agentId(name), today()));
const spent = async (name: AgentName, tools = 'pay.*', sum = AMOUNT) => Number((await totals(name))[spendCapId({ tools, sum })] ?? 0);

/** Seconds from now to the next 00:00 UTC. */
function secondsToMidnightUtc(): number {
  const now = new Date();
  return (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
}

beforeAll(async () => {
  upstream = await StubServer.start(answer);
  const base = testConfig();
  config = testConfig({
    agents: [
      ...Object.entries(AGENTS).map(([name, spendCaps]) => ({
        id: agentId(name as AgentName),
        key: { secret: `SPEND_${name.toUpperCase()}_KEY` },
        scopes: ['tools:*'],
        spendCaps,
      })),
      // An agent without caps: pays nothing.
      ...base.agents.map(({ id }) => ({ id, key: { secret: `${id.replace('-', '_').toUpperCase()}_KEY` }, scopes: ['tools:*'] })),
    ],
    integrations: {
      pay: { baseUrl: upstream.url, retry: { attempts: 1 }, tools: [payCharge] },
      locked: {
        baseUrl: upstream.url,
        auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'LOCKED_API_KEY' },
        retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
        tools: [lockedCharge],
      },
      parked: { baseUrl: upstream.url, tools: [parkedCharge] },
    },
  });
  h = await startApi('spend-caps', { config });
  for (const name of Object.keys(AGENTS)) h.env[`SPEND_${name.toUpperCase()}_KEY`] = keyOf(name as AgentName);
  // The worker runs every integration but `parked`.
  ({ close: stopWorker } = await startWorkerBeside(config, h, 'spend-caps', ['parked']));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopWorker?.();
  await h?.close();
  await upstream?.close();
});

describe('spend caps', () => {
  it('lets exactly the jobs that fit through 20 concurrent submissions: 3 × 30 of 100, 17 refused 429 BUDGET_EXCEEDED until midnight UTC', async () => {
    const jobsBefore = await h.jobKeyCount();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => charge('burst', 30, `burst-${i}`)));
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(3);
    expect(refused).toHaveLength(17);
    for (const res of refused) {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 429, code: 'BUDGET_EXCEEDED', title: 'Spend cap reached', errors: [{ pointer: AMOUNT }] });
      // Names the cap (tools, max), what is spent so far, and this job's amount.
      expect(res.body.detail).toMatch(/at most 100 \(the sum of \/input\/amount\) on "pay\.\*" per UTC day; 90 is spent so far today and this job's amount is 30 \(10 is left\)/);
      expect(Math.abs(Number(res.headers['retry-after']) - secondsToMidnightUtc())).toBeLessThanOrEqual(5);
    }
    // Nothing written for the refused ones.
    expect((await h.jobKeyCount()) - jobsBefore).toBe(3);
    expect(await spent('burst')).toBe(90);

    for (const res of accepted) expect(await h.finished(auth('burst'), res.body.id)).toMatchObject({ status: 'succeeded' });
    expect(callsFor('burst-')).toBe(3);
    // Succeeded: spent for good, whatever happens to the job later.
    expect(await h.redis.hlen(redisKeys(h.prefix).spendJobs(agentId('burst'), today()))).toBe(0);
    expect(await spent('burst')).toBe(90);
  });

  it('counts an idempotent replay once, concurrent duplicates included', async () => {
    const send = () =>
      request(h.server)
        .post('/v1/jobs')
        .set(auth('replay'))
        .set('Idempotency-Key', 'spend-k1')
        .send({ tool: 'pay.charge', input: { ref: 'replay-1', amount: 60 } });
    const first = await send();
    expect(first.status).toBe(202);
    const again = await Promise.all(Array.from({ length: 5 }, send));
    for (const res of again) {
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(first.body.id);
    }
    expect(await spent('replay')).toBe(60);
    // Concurrent duplicates of a new key: one job, counted once (the others give their reservation back).
    const burst = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(h.server)
          .post('/v1/jobs')
          .set(auth('replay'))
          .set('Idempotency-Key', 'spend-k2')
          .send({ tool: 'pay.charge', input: { ref: 'replay-2', amount: 25 } }),
      ),
    );
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);
    expect(burst.every((r) => r.status === 200 || r.status === 202)).toBe(true);
    expect(await spent('replay')).toBe(85);
    await h.finished(auth('replay'), first.body.id);
    await h.finished(auth('replay'), burst[0]!.body.id);
    expect(callsFor('replay-')).toBe(2);
    // 15 left: 16 does not fit, 15 does.
    expect((await charge('replay', 16, 'replay-3')).status).toBe(429);
    expect((await charge('replay', 15, 'replay-4')).status).toBe(202);
  });

  it('gives a cancelled job its amount back, once', async () => {
    const parked = await request(h.server)
      .post('/v1/jobs')
      .set(auth('cancel'))
      .send({ tool: 'parked.charge', input: { ref: 'cancel-1', amount: 70 } })
      .expect(202);
    expect(await spent('cancel', '*')).toBe(70);
    const over = await request(h.server)
      .post('/v1/jobs')
      .set(auth('cancel'))
      .send({ tool: 'parked.charge', input: { ref: 'cancel-2', amount: 40 } });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('BUDGET_EXCEEDED');

    await request(h.server).delete(`/v1/jobs/${parked.body.id}`).set(auth('cancel')).expect(200);
    expect(await spent('cancel', '*')).toBe(0);
    // Given back twice (a second cancel is 409; the give-back itself is idempotent): still 0, never negative.
    await request(h.server).delete(`/v1/jobs/${parked.body.id}`).set(auth('cancel')).expect(409);
    expect(await giveBackSpend(h.redis, redisKeys(h.prefix), { id: parked.body.id, agentId: agentId('cancel'), spendDay: today() })).toBe(false);

    await request(h.server)
      .post('/v1/jobs')
      .set(auth('cancel'))
      .send({ tool: 'parked.charge', input: { ref: 'cancel-2', amount: 40 } })
      .expect(202);
    await request(h.server)
      .post('/v1/jobs')
      .set(auth('cancel'))
      .send({ tool: 'parked.charge', input: { ref: 'cancel-3', amount: 60 } })
      .expect(202);
    expect(await spent('cancel', '*')).toBe(100);
  });

  it('gives back the amount of a job that failed before any upstream request, not of one that failed after', async () => {
    // No LOCKED_API_KEY: every try fails before its request.
    const locked = await charge('before', 80, 'before-1', {}, 'locked.charge').expect(202);
    expect(await h.finished(auth('before'), locked.body.id)).toMatchObject({ status: 'failed', error: { code: 'AUTHENTICATION_FAILED', retryable: false } });
    expect(upstream.count((r) => r.path === '/locked/charges')).toBe(0);
    await waitFor(async () => (await spent('before', '*')) === 0, { what: 'the failed job to give its amount back' });
    await charge('before', 80, 'before-2').expect(202);

    // The upstream refuses the charge (400): the request was sent, the amount stays counted.
    const rejected = await charge('after', 70, 'reject-1').expect(202);
    expect(await h.finished(auth('after'), rejected.body.id)).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR', upstreamStatus: 400 } });
    expect(callsFor('reject-1')).toBe(1);
    expect(await spent('after')).toBe(70);
    expect(await giveBackSpend(h.redis, redisKeys(h.prefix), { id: rejected.body.id, agentId: agentId('after'), spendDay: today() })).toBe(false);
    expect((await charge('after', 40, 'after-2')).status).toBe(429);
  });

  it('passes a job under two caps only when it fits both; refused by either, it reserves nothing on the other', async () => {
    const fee = (n: number) => ({ fee: n });
    await charge('multi', 50, 'multi-1', fee(8)).expect(202);
    expect(await spent('multi')).toBe(50);
    expect(await spent('multi', 'pay.charge', '/input/fee')).toBe(8);

    const byFee = await charge('multi', 10, 'multi-2', fee(5));
    expect(byFee.status).toBe(429);
    expect(byFee.body.detail).toContain('(the sum of /input/fee) on "pay.charge"');
    expect(byFee.body.errors).toEqual([{ pointer: '/input/fee', message: expect.stringContaining('over its max 10') }]);
    expect(await spent('multi')).toBe(50);

    const byAmount = await charge('multi', 60, 'multi-3', fee(1));
    expect(byAmount.status).toBe(429);
    expect(byAmount.body.detail).toContain('(the sum of /input/amount) on "pay.*"');
    expect(await spent('multi', 'pay.charge', '/input/fee')).toBe(8);

    // Exactly to both maxes.
    await charge('multi', 50, 'multi-4', fee(2)).expect(202);
    expect(await spent('multi')).toBe(100);
    expect(await spent('multi', 'pay.charge', '/input/fee')).toBe(10);
  });

  it('refuses a capped job whose amount is missing or not a number ≥ 0 with 422 and the pointer, before anything is written', async () => {
    const jobs = await h.jobKeyCount();
    for (const bad of [undefined, '30', -1, null, { value: 3 }]) {
      const res = await request(h.server)
        .post('/v1/jobs')
        .set(auth('invalid'))
        .send({ tool: 'pay.charge', input: { ref: 'invalid', ...(bad === undefined ? {} : { amount: bad }) } });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('VALIDATION_ERROR');
      expect(res.body.errors).toEqual([{ pointer: AMOUNT, message: expect.stringMatching(bad === undefined ? /is required/ : /must be a number ≥ 0/) }]);
    }
    // Reported with the other problems of the request, in one round.
    const both = await request(h.server)
      .post('/v1/jobs')
      .set(auth('invalid'))
      .send({ tool: 'pay.charge', input: { amount: 'x' } });
    expect(both.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([AMOUNT, '/input/ref']);
    // A job under two caps: each missing field is named.
    const multi = await request(h.server)
      .post('/v1/jobs')
      .set(auth('multi'))
      .send({ tool: 'pay.charge', input: { ref: 'x', amount: 1 } });
    expect(multi.status).toBe(422);
    expect(multi.body.errors).toEqual([{ pointer: '/input/fee', message: expect.stringMatching(/is required/) }]);
    expect(await h.jobKeyCount()).toBe(jobs);
    expect(await totals('invalid')).toEqual({});
  });

  it('refuses over MCP with the same code, as a tool error with retryAt at midnight UTC', async () => {
    const client = new Client({ name: 'spend-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(h.server)}/mcp`), { requestInit: { headers: auth('mcp') } }));
    clients.push(client);
    const call = (amount: number, ref: string) => client.callTool({ name: 'pay_charge', arguments: { ref, amount } }) as Promise<CallToolResult>;

    const ok = await call(90, 'mcp-1');
    expect(ok.isError).toBeFalsy();
    const before = upstream.count();
    const refused = await call(20, 'mcp-2');
    expect(refused.isError).toBe(true);
    const { error } = refused.structuredContent as { error: { code: string; retryable: boolean; retryAt: string; message: string } };
    expect(error).toMatchObject({ code: 'BUDGET_EXCEEDED', retryable: true });
    expect(error.message).toMatch(/90 is spent so far today and this job's amount is 20/);
    expect(Math.abs((Date.parse(error.retryAt) - Date.now()) / 1000 - secondsToMidnightUtc())).toBeLessThanOrEqual(5);
    expect((refused.content[0] as { text: string }).text).toContain(`Retryable: make the same call again at or after ${error.retryAt}`);
    expect(upstream.count()).toBe(before);
    expect(await spent('mcp')).toBe(90);
  });

  it('keeps the ledger under keys of the agent and day that expire an hour after the day ends, and costs uncapped agents nothing', async () => {
    const keys = redisKeys(h.prefix);
    for (const key of [keys.spendTotals(agentId('cancel'), today()), keys.spendJobs(agentId('cancel'), today())]) {
      const ttlSeconds = (await h.redis.pttl(key)) / 1000;
      expect(Math.abs(ttlSeconds - (secondsToMidnightUtc() + 3600))).toBeLessThanOrEqual(5);
    }
    // Cluster-safe: both keys of one agent's day share a hash tag.
    expect(keys.spendTotals('a', '2025-01-01')).toContain('{spend:a:2025-01-01}');
    expect(keys.spendJobs('a', '2025-01-01')).toContain('{spend:a:2025-01-01}');

    const job = await request(h.server)
      .post('/v1/jobs')
      .set(bearer('key-agent-c'))
      .send({ tool: 'pay.charge', input: { ref: 'free-1', amount: 1_000_000 } });
    expect(job.status).toBe(202);
    expect(await h.redis.keys(`${h.prefix}:spend:{spend:agent-c:*`)).toEqual([]);
    expect(await h.store.get(job.body.id)).not.toHaveProperty('spendDay');
  });

  it("counts the retry of a keyed submission that made no job, even within the duplicates' window", async () => {
    // The api's own SpendCaps on its Redis: the failed create (a withdrawn enqueue, or a request that gave up
    // waiting on Redis) is release() with no job, which the HTTP path cannot be made to do on demand.
    const caps = new SpendCaps(config, h.producer, redisKeys(h.prefix), testLogger('spend-caps'));
    const agent = agentId('retried');
    const charges = caps.measure(agent, 'pay.charge', { tool: 'pay.charge', input: { ref: 'retried-1', amount: 900 } }).charges;
    const claim = { key: 'retried-key-hash', fingerprint: 'retried-fingerprint' };

    const first = await caps.reserve(agent, 'job-retried-a', charges, new Date(), claim);
    expect(first.spendDay).toBe(today());
    // A concurrent duplicate passes on the first one's standing reservation: nothing more counted.
    const twin = await caps.reserve(agent, 'job-retried-twin', charges, new Date(), claim);
    expect(twin.spendDay).toBeUndefined();
    expect(await spent('retried')).toBe(900);

    // The create fails: 503, "send the same request with the same Idempotency-Key".
    await first.release();
    expect(await spent('retried')).toBe(0);

    // The retry, well within the 10 s window, is counted: the job it makes spends 900.
    const retry = await caps.reserve(agent, 'job-retried-b', charges, new Date(), claim);
    expect(retry.spendDay).toBe(today());
    expect(await spent('retried')).toBe(900);
    // And the cap holds: 200 more would make 1100.
    const more = caps.measure(agent, 'pay.charge', { tool: 'pay.charge', input: { ref: 'retried-2', amount: 200 } }).charges;
    await expect(caps.reserve(agent, 'job-retried-c', more, new Date())).rejects.toMatchObject({ problem: { code: 'BUDGET_EXCEEDED' } });
    expect(await spent('retried')).toBe(900);
  });
});
