import { Queue } from 'bullmq';
import { redisKeys } from '@broker/redis/keys';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { StubServer, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { asyncConfig, startBroker, type Broker } from './harness';

/**
 * Async tools that poll: a file-declared tool (status rules on a JSON path)
 * and the built-in github.exportRepositories, each against a stub upstream
 * that finishes an operation some checks after it accepted it.
 */
type Scenario = 'succeed' | 'fail' | 'forever' | 'flaky' | 'weird' | 'throttled' | 'throttled-bare';

let stub: StubServer;
let broker: Broker;
const scenarios = new Map<string, Scenario>();
const polls = (id: string): StubRequest[] => stub.requests.filter((r) => r.method === 'GET' && r.path === `/exports/${id}`);

function answer(req: StubRequest) {
  if (req.method === 'POST' && req.path === '/exports') {
    const id = `exp_${scenarios.size + 1}`;
    scenarios.set(id, (JSON.parse(req.body) as { scenario: Scenario }).scenario);
    return { status: 202, body: { id, status: 'queued', percent: 0 } };
  }
  const exp = /^\/exports\/(exp_\d+)$/.exec(req.path);
  if (exp) {
    const id = exp[1]!;
    const n = polls(id).length; // this request included
    switch (scenarios.get(id)) {
      case 'succeed':
        return n < 3 ? { body: { id, status: 'running', percent: n * 40 } } : { body: { id, status: 'done', percent: 100, result: { url: `/files/${id}.csv` } } };
      case 'fail':
        return n < 2 ? { body: { id, status: 'running', percent: 10 } } : { body: { id, status: 'failed' } };
      case 'flaky':
        return n === 1 ? { status: 503, body: { error: 'busy' } } : { body: { id, status: 'done', result: { url: `/files/${id}.csv` } } };
      case 'weird':
        return { body: { id, status: 'paused' } };
      // The first check is throttled: for longer than the wait has left, or without saying for how long.
      case 'throttled':
        return n === 1 ? { status: 429, headers: { 'retry-after': '30' }, body: { error: 'slow down' } } : { body: { id, status: 'running' } };
      case 'throttled-bare':
        return n === 1 ? { status: 429, body: { error: 'slow down' } } : { body: { id, status: 'running' } };
      default:
        return { body: { id, status: 'running', percent: 1 } };
    }
  }
  const migration = /^\/orgs\/acme\/migrations(?:\/(\d+))?$/.exec(req.path);
  if (migration) {
    const n = stub.count((r) => r.method === 'GET' && r.path === '/orgs/acme/migrations/79');
    const state = req.method === 'POST' ? 'pending' : n < 2 ? 'exporting' : 'exported';
    return {
      status: req.method === 'POST' ? 201 : 200,
      body: {
        id: 79,
        guid: 'g-79',
        state,
        url: `${stub.url}/orgs/acme/migrations/79`,
        repositories: [{ full_name: 'acme/web' }],
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
      },
    };
  }
  return { status: 404, body: {} };
}

/** A declared async tool that starts an export and polls it. */
const exportTool = (name: string) => ({
  name,
  method: 'POST',
  path: '/exports',
  input: { type: 'object', required: ['scenario'], properties: { scenario: { type: 'string' } } },
  output: { type: 'object', required: ['url'], properties: { url: { type: 'string' } } },
  async: {
    referencePath: '$.id',
    deadlineMs: 1500,
    poll: {
      path: '/exports/{reference}',
      doneWhen: { path: '$.status', equals: 'done' },
      failedWhen: { path: '$.status', equals: 'failed' },
      pendingWhen: { path: '$.status', in: ['queued', 'running'] },
      resultPath: '$.result',
      progressPath: '$.percent',
      intervalMs: 40,
      maxIntervalMs: 160,
    },
  },
});

beforeAll(async () => {
  stub = await StubServer.start(answer);
  const config = asyncConfig({
    integrations: {
      exp: {
        baseUrl: stub.url,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        tools: [exportTool('exp.startExport')],
      },
      // Their own integrations: a status check's 429 pauses its whole integration.
      held: { baseUrl: stub.url, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 }, tools: [exportTool('held.startExport')] },
      // A 429 without Retry-After pauses for the retry settings' backoff: 5 s here, longer than the wait's deadline.
      bare: { baseUrl: stub.url, retry: { attempts: 2, baseDelayMs: 5000, maxDelayMs: 5000 }, tools: [exportTool('bare.startExport')] },
      github: { baseUrl: stub.url, auth: { type: 'apiKey', secret: 'GITHUB_TOKEN', prefix: 'Bearer ' }, asyncPoll: { intervalMs: 40 } },
    },
  });
  broker = await startBroker('async-poll', config, { GITHUB_TOKEN: 'ghp_test' });
});

afterAll(async () => {
  await broker.close();
  await stub.close();
});

describe('a polled async tool (declared in the file)', () => {
  it('stays running with its reference, checks with backoff, and succeeds with the result', async () => {
    const { id } = await broker.submit('exp.startExport', { scenario: 'succeed' });
    const waiting = await broker.waiting(id);
    expect(waiting).toMatchObject({ status: 'running', attempts: 1, progress: { state: 'waiting', reference: 'exp_1', via: ['poll'] } });
    expect(Date.parse((waiting.progress as { deadline: string }).deadline)).toBeGreaterThan(Date.now());

    const done = await broker.settled(id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, result: { url: '/files/exp_1.csv' }, progress: { state: 'done', reference: 'exp_1', checks: 3 } });
    // The first call, then three checks (running, running, done), each after a longer pause than the last.
    expect(stub.count((r) => r.method === 'POST')).toBeGreaterThanOrEqual(1);
    const at = [stub.requests.find((r) => r.method === 'POST' && r.body.includes('succeed'))!.at, ...polls('exp_1').map((r) => r.at)];
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(155);
  });

  it('fails for good when the status says failed, naming the reference', async () => {
    const { id } = await broker.submit('exp.startExport', { scenario: 'fail' });
    const job = await broker.settled(id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
    expect(job.error!.message).toContain('exp_2');
    expect(polls('exp_2')).toHaveLength(2);
  });

  it('keeps waiting through a failed status check (503), then succeeds', async () => {
    const { id } = await broker.submit('exp.startExport', { scenario: 'flaky' });
    expect(await broker.settled(id)).toMatchObject({ status: 'succeeded', result: { url: '/files/exp_3.csv' } });
    expect(polls('exp_3')).toHaveLength(2);
  });

  it('fails UNKNOWN on a status none of its rules know', async () => {
    const { id } = await broker.submit('exp.startExport', { scenario: 'weird' });
    const job = await broker.settled(id);
    expect(job.error).toMatchObject({ code: 'UNKNOWN', retryable: false });
    expect(job.error!.message).toContain('exp_4');
  });

  it('fails TIMEOUT at the deadline, with the reference in the error and the progress', async () => {
    const started = Date.now();
    const { id } = await broker.submit('exp.startExport', { scenario: 'forever' });
    const job = await broker.settled(id, 8000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', retryable: false }, progress: { state: 'timed_out', reference: 'exp_5' } });
    expect(job.error!.message).toContain('"exp_5"');
    // Checks capped at maxIntervalMs (160 ms) over 1.5 s: a handful, not hundreds.
    expect(polls('exp_5').length).toBeGreaterThanOrEqual(5);
    expect(polls('exp_5').length).toBeLessThanOrEqual(15);
  });
});

describe('a status check the upstream throttles', () => {
  const referenceOf = async (id: string) => ((await broker.waiting(id)).progress as { reference: string }).reference;

  it('held back for longer than the wait has left, the job sleeps until its deadline rather than running again at once, then fails TIMEOUT', async () => {
    const started = Date.now();
    const { id } = await broker.submit('held.startExport', { scenario: 'throttled' });
    const reference = await referenceOf(id);
    const job = await broker.settled(id, 8000);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', retryable: false }, progress: { state: 'timed_out', reference } });
    // The deadline (1.5 s) is honoured: not before it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    // The first check's 429 paused the integration for 30 s: no later check reached the upstream.
    expect(polls(reference)).toHaveLength(1);
    // Every run of the job, as BullMQ counts them: the first call, the throttled check, one check held
    // back (it sleeps until the deadline), the deadline's last look. Spinning, it ran every few ms.
    const name = integrationQueueName('held');
    const queue = new Queue(name, { connection: broker.h.redis, prefix: bullPrefix(broker.h.prefix, name) });
    try {
      const runs = (await queue.getJob(id))!.attemptsStarted;
      expect(runs).toBeGreaterThanOrEqual(3);
      expect(runs).toBeLessThanOrEqual(6);
    } finally {
      await queue.close();
    }
  });

  it("a check's 429 without Retry-After pauses the integration for every worker, as a try's would", async () => {
    const { id } = await broker.submit('bare.startExport', { scenario: 'throttled-bare' });
    const reference = await referenceOf(id);
    await waitFor(() => polls(reference).length === 1, { timeoutMs: 3000, what: 'the throttled check' });
    // The retry settings' backoff for a first 429: baseDelayMs (5 s).
    const pause = redisKeys(broker.h.prefix).pause('bare');
    const pttl = await waitFor(
      async () => {
        const ms = await broker.h.redis.pttl(pause);
        return ms > 0 ? ms : undefined;
      },
      { timeoutMs: 3000, what: 'the integration to be paused' },
    );
    expect(pttl).toBeGreaterThan(3000);
    expect(pttl).toBeLessThanOrEqual(5000);
    // Paused past the deadline: no other check reached the upstream.
    expect(await broker.settled(id, 8000)).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
    expect(polls(reference)).toHaveLength(1);
  });
});

describe('a polled built-in tool: github.exportRepositories', () => {
  it('starts the migration, checks it until exported, and succeeds with the archive URL', async () => {
    const { id } = await broker.submit('github.exportRepositories', { org: 'acme', repositories: ['web'] });
    const waiting = await broker.waiting(id);
    expect(waiting.progress).toMatchObject({ reference: '79', upstream: { state: 'pending' } });
    const job = await broker.settled(id);
    expect(job).toMatchObject({
      status: 'succeeded',
      result: { id: 79, state: 'exported', repositories: ['acme/web'], archive_url: `${stub.url}/orgs/acme/migrations/79/archive` },
    });
    const checks = stub.requests.filter((r) => r.method === 'GET' && r.path === '/orgs/acme/migrations/79');
    expect(checks).toHaveLength(2);
    expect(checks[0]!.headers['x-github-api-version']).toBe('2022-11-28');
    expect(checks[0]!.headers.authorization).toBe('Bearer ghp_test');
  });
});
