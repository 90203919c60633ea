import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { bearer, KEYS } from '../api/harness';
import { CLI_MAIN, cliRunner, type Cli, type CliRun } from '../helpers/cli-runner';
import { REDIS_URL } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { standardEvent } from '../webhooks/signers';
import { ADMIN_TOKEN, demoUpstream, startStack, type Stack } from './stack';

/**
 * The `broker` CLI, spawned from its build (`npx tsc -p apps/cli`) the way an
 * operator runs it, against a real api + worker + Redis.
 */

const ACME_SECRET = `whsec_${Buffer.from('acme-cli-test-secret-0123456789').toString('base64')}`;
const TRIGGER_SECRET = `whsec_${Buffer.from('trigger-cli-test-secret-012345').toString('base64')}`;

let s: Stack;
let receiver: StubServer;
let cli: Cli;
const tmp = mkdtempSync(join(tmpdir(), 'broker-cli-'));
/** Contacts whose upstream answers 500 while this holds. */
const failing = new Set<string>();

const json = (run: CliRun) => JSON.parse(run.stdout) as Record<string, unknown>;

beforeAll(async () => {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build it with "npx tsc -p apps/cli"`);
  receiver = await StubServer.start(() => ({ status: 204 }));
  s = await startStack('cli', {
    overrides: {
      webhooks: { acme: { type: 'standard', secret: 'ACME_WEBHOOK_SECRET' } },
      routes: [{ source: 'acme', event: '*', trigger: 'acme_any' }],
      triggerDelivery: { url: `${receiver.url}/hooks/agent`, secret: 'TRIGGER_SIGNING_SECRET' },
    },
  });
  s.h.env.ACME_WEBHOOK_SECRET = ACME_SECRET;
  s.h.env.TRIGGER_SIGNING_SECRET = TRIGGER_SECRET;
  s.upstream.setHandler((req, i) => (failing.has(req.path) ? { status: 500, body: { error: 'boom' } } : demoUpstream(req, i)));
  cli = cliRunner({ REDIS_URL, BROKER_REDIS_PREFIX: s.h.prefix, BROKER_URL: s.baseUrl, BROKER_ADMIN_TOKEN: ADMIN_TOKEN });
});
afterAll(async () => {
  await s?.close();
  await receiver?.close();
});

describe('broker CLI: usage', () => {
  it('prints help for every command, exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['config check', 'jobs get', 'jobs retry', 'jobs retry-failed', 'events list', 'events show', 'events replay', 'keys hash', 'audit']) {
      expect(top.stdout).toContain(command);
      const help = await cli([...command.split(' '), '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: broker ${command}`);
      expect(help.stdout).toContain('--json');
    }
  });

  it('exits 2 on wrong usage', async () => {
    for (const args of [
      [],
      ['nope'],
      ['jobs', 'nope'],
      ['jobs', 'get'],
      ['jobs', 'get', 'a', 'b'],
      ['jobs', 'retry'],
      ['jobs', 'retry', 'a', 'b'],
      ['keys', 'hash', 'k', '--bogus'],
      ['jobs', 'retry-failed'],
      ['events', 'list', '--limit', 'many'],
    ]) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
    }
  });
});

describe('broker config check', () => {
  it('accepts a valid file', async () => {
    const file = join(tmp, 'good.json');
    writeFileSync(file, JSON.stringify({ integrations: { demo: { baseUrl: 'http://127.0.0.1:4010', tools: [] } } }));
    const run = await cli(['config', 'check', file, '--json']);
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ ok: true, integrations: ['demo'] });
  });

  it('prints every problem of a bad file and exits 1', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, 'integrations:\n  demo:\n    baseUrl: not-a-url\n    timeoutMs: -1\nagents:\n  - id: a\n    key: { secret: "has spaces" }\n');
    const run = await cli(['config', 'check', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/integrations\.demo\.baseUrl/);
    expect(run.stdout).toMatch(/integrations\.demo\.timeoutMs/);
    expect(run.stdout).toMatch(/agents\.0\.key\.secret/);
    const asJson = await cli(['config', 'check', file, '--json']);
    expect((json(asJson).problems as string[]).length).toBeGreaterThanOrEqual(3);
    expect((await cli(['config', 'check', join(tmp, 'missing.json')])).code).toBe(1);
  });

  it("compiles declared tools' JSON Schemas and names each one that does not compile", async () => {
    const file = join(tmp, 'bad-schema.json');
    const tool = (name: string, schemas: Record<string, unknown>) => ({ name, method: 'POST', path: '/x', ...schemas });
    const tools = [
      tool('crm.a', { input: { type: 'nonsense' } }),
      tool('crm.b', { input: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' } }),
      tool('crm.c', { input: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', prefixItems: [] }, output: { required: 'id' } }),
    ];
    writeFileSync(file, JSON.stringify({ integrations: { crm: { baseUrl: 'http://127.0.0.1:9', tools } } }));
    const run = await cli(['config', 'check', file, '--json']);
    expect(run.code).toBe(1);
    expect(json(run).problems).toEqual([
      expect.stringMatching(/^integrations\.crm\.tools\.0\.input: schema is invalid: data\/type must be equal to one of the allowed values/),
      expect.stringMatching(/^integrations\.crm\.tools\.1\.input: \$schema "http:\/\/json-schema\.org\/draft-04\/schema#" is not a dialect the broker validates/),
      // Checked against the 2020-12 meta-schema its $schema names (draft-07 knows no prefixItems).
      'integrations.crm.tools.2.input: schema is invalid: data/prefixItems must NOT have fewer than 1 items',
      expect.stringMatching(/^integrations\.crm\.tools\.2\.output: schema is invalid: data\/required must be array/),
    ]);
  });
});

describe('broker keys hash', () => {
  it('prints the sha256 of a key, from the argument or stdin', async () => {
    const expected = createHash('sha256').update('key-agent-a').digest('hex');
    expect((await cli(['keys', 'hash', 'key-agent-a'])).stdout.trim()).toBe(expected);
    expect(json(await cli(['keys', 'hash', '-', '--json'], {}, 'key-agent-a\n'))).toEqual({ sha256: expected });
  });
});

describe('broker jobs', () => {
  it("reads a job record from Redis, any agent's", async () => {
    const submitted = await request(s.h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.getContact', input: { id: 'c_cli' } })
      .expect(202);
    await request(s.h.server).get(`/v1/jobs/${submitted.body.id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    const run = await cli(['jobs', 'get', submitted.body.id, '--json']);
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ id: submitted.body.id, status: 'succeeded', agentId: 'agent-a', integration: 'demo', result: { id: 'c_cli' } });

    const unknown = await cli(['jobs', 'get', 'job_00000000000000000000000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no job');
    const noRedis = await cli(['jobs', 'get', submitted.body.id], { REDIS_URL: 'redis://:hunter2@127.0.0.1:1' });
    expect(noRedis.code).toBe(1);
    expect(noRedis.stderr).toContain('cannot reach Redis');
    expect(noRedis.stderr).not.toContain('hunter2');
  });

  it("retries an integration's failed jobs, which then run again", async () => {
    failing.add('/contacts/c_flaky');
    const submitted = await request(s.h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.getContact', input: { id: 'c_flaky' } })
      .expect(202);
    const id = submitted.body.id as string;
    const failed = await request(s.h.server).get(`/v1/jobs/${id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    expect(failed.body).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR' } });
    await waitFor(async () => (await s.h.queue.getFailedCount()) > 0, { what: 'the BullMQ job to be failed' });

    const dry = await cli(['jobs', 'retry-failed', '--integration', 'demo', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(json(dry)).toMatchObject({ dryRun: true, retried: 1, jobs: [id] });
    expect((await s.h.store.get(id))?.status).toBe('failed');

    failing.delete('/contacts/c_flaky');
    const run = await cli(['jobs', 'retry-failed', '--integration', 'demo']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('retried 1 failed job(s) of demo');
    const audited = json(await cli(['audit', '--limit', '500', '--json'])).entries as { jobId: string; event: string; by?: string; code?: string }[];
    expect(audited.find((e) => e.jobId === id && e.event === 'retried')).toMatchObject({ by: 'operator', code: 'UPSTREAM_ERROR' });
    const done = await request(s.h.server).get(`/v1/jobs/${id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: 'c_flaky' } });
    expect(done.body.error).toBeUndefined();

    const again = await cli(['jobs', 'retry-failed', '--integration', 'demo', '--json']);
    expect(json(again)).toMatchObject({ retried: 0 });
  });

  it("retries one of an agent's failed jobs with the agent's key, as the same job", async () => {
    failing.add('/contacts/c_cli_retry');
    const submitted = await request(s.h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.getContact', input: { id: 'c_cli_retry' } })
      .expect(202);
    const id = submitted.body.id as string;
    const failed = await request(s.h.server).get(`/v1/jobs/${id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    expect(failed.body).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'UPSTREAM_ERROR', retryable: true } });
    failing.delete('/contacts/c_cli_retry');

    const noKey = await cli(['jobs', 'retry', id]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('BROKER_AGENT_KEY');
    const stranger = await cli(['jobs', 'retry', id], { BROKER_AGENT_KEY: KEYS.c });
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('404 NOT_FOUND');

    const run = await cli(['jobs', 'retry', id, '--json'], { BROKER_AGENT_KEY: KEYS.a });
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ id, status: 'queued', attempts: 1 });
    const done = await request(s.h.server).get(`/v1/jobs/${id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 2, result: { id: 'c_cli_retry' } });

    const again = await cli(['jobs', 'retry', id], { BROKER_AGENT_KEY: KEYS.a });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('409 CONFLICT');
  });

  it('refuses an integration the config file does not have', async () => {
    const file = join(tmp, 'config.json');
    writeFileSync(file, JSON.stringify({ integrations: { demo: { baseUrl: 'http://127.0.0.1:4010' } } }));
    const run = await cli(['jobs', 'retry-failed', '--integration', 'nope'], { BROKER_CONFIG: file });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no integration "nope"');
  });
});

describe('broker events', () => {
  beforeAll(async () => {
    for (const [id, type] of [
      ['msg_cli_1', 'invoice.paid'],
      ['msg_cli_2', 'invoice.voided'],
    ] as const) {
      const signed = standardEvent({ id, type, secrets: [ACME_SECRET] });
      await request(s.h.server).post('/hooks/acme').set(signed.headers).send(signed.body).expect(200);
    }
  });

  it('lists events with filters, newest first', async () => {
    const all = await cli(['events', 'list', '--source', 'acme', '--json']);
    expect(all.code).toBe(0);
    expect((json(all).events as { id: string }[]).map((e) => e.id)).toEqual(['acme:msg_cli_2', 'acme:msg_cli_1']);
    const paid = await cli(['events', 'list', '--type', 'invoice.paid', '--limit', '5']);
    expect(paid.code).toBe(0);
    expect(paid.stdout).toContain('acme:msg_cli_1');
    expect(paid.stdout).not.toContain('acme:msg_cli_2');
    const page = await cli(['events', 'list', '--limit', '1', '--json']);
    expect(json(page).nextCursor).toEqual(expect.any(String));
  });

  it('shows and replays an event', async () => {
    const shown = await cli(['events', 'show', 'acme:msg_cli_1', '--json']);
    expect(shown.code).toBe(0);
    expect(json(shown)).toMatchObject({ id: 'acme:msg_cli_1', source: 'acme', type: 'invoice.paid' });
    const replayed = await cli(['events', 'replay', 'acme:msg_cli_1', '--json']);
    expect(replayed.code).toBe(0);
    expect(json(replayed)).toMatchObject({ id: 'acme:msg_cli_1', deliveries: [expect.objectContaining({ trigger: 'acme_any', replay: true })] });
    const missing = await cli(['events', 'show', 'acme:nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 NOT_FOUND');
  });

  it('fails without a valid admin token', async () => {
    const none = await cli(['events', 'list'], { BROKER_ADMIN_TOKEN: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('BROKER_ADMIN_TOKEN');
    const wrong = await cli(['events', 'list'], { BROKER_ADMIN_TOKEN: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401 UNAUTHENTICATED');
  });
});

describe('broker audit', () => {
  it("prints a job's audit trail, newest first, filtered and paged", async () => {
    const submitted = await request(s.h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.getContact', input: { id: 'c_cli_audit' } })
      .expect(202);
    const id = submitted.body.id as string;
    await request(s.h.server).get(`/v1/jobs/${id}?waitMs=10000`).set(bearer(KEYS.a)).expect(200);
    const trail = await waitFor(
      async () => {
        const run = await cli(['audit', '--agent', 'agent-a', '--tool', 'demo.*', '--limit', '500', '--json']);
        const entries = (json(run).entries as { jobId: string; event: string }[]).filter((e) => e.jobId === id);
        return entries.some((e) => e.event === 'succeeded') ? entries.map((e) => e.event) : undefined;
      },
      { what: "the job's succeeded entry" },
    );
    // Newest first. Every upstream request is an entry: a resend inside the try (a reused
    // keep-alive socket reset by the stub) adds a second `call`.
    expect(trail[0]).toBe('succeeded');
    expect(trail[trail.length - 1]).toBe('submitted');
    expect(trail.slice(1, -1)).toEqual(expect.arrayContaining(['call']));
    expect(trail.slice(1, -1).filter((event) => event !== 'call')).toEqual([]);

    const human = await cli(['audit', '--since', '2000-01-01T00:00:00Z', '--limit', '1']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^\S+Z {2}\S+ +job_/);
    expect(human.stdout).toContain('more: --cursor ');
    const help = await cli(['audit', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: broker audit');
    for (const args of [
      ['audit', '--since', 'yesterday'],
      ['audit', '--limit', '0'],
      ['audit', 'extra'],
    ])
      expect((await cli(args)).code).toBe(2);
    expect((await cli(['audit'], { BROKER_ADMIN_TOKEN: 'wrong' })).stderr).toContain('401 UNAUTHENTICATED');
  });
});
