import { existsSync } from 'node:fs';
import request from 'supertest';
import { bearer, KEYS } from '../api/harness';
import { CLI_MAIN, cliRunner, type Cli } from '../helpers/cli-runner';
import { REDIS_URL } from '../helpers/redis';
import { ADMIN_TOKEN, startStack, type Stack } from './stack';

/**
 * `broker approvals list|approve|deny`, spawned from the CLI's build against a
 * real api + worker + Redis whose config holds every demo.createOrder.
 */

let s: Stack;
let cli: Cli;

const A = bearer(KEYS.a);

async function heldOrder(sku: string): Promise<string> {
  const res = await request(s.h.server)
    .post('/v1/jobs')
    .set(A)
    .send({ tool: 'demo.createOrder', input: { sku, qty: 1 } })
    .expect(202);
  expect(res.body.status).toBe('awaiting_approval');
  return res.body.id as string;
}

beforeAll(async () => {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build it with "npx tsc -p apps/cli"`);
  s = await startStack('cli-approvals', { overrides: { approvals: [{ tools: 'demo.createOrder' }] } });
  cli = cliRunner({ REDIS_URL, BROKER_REDIS_PREFIX: s.h.prefix, BROKER_URL: s.baseUrl, BROKER_ADMIN_TOKEN: ADMIN_TOKEN });
});
afterAll(async () => {
  await s?.close();
});

describe('broker approvals', () => {
  it('prints help for each command', async () => {
    for (const command of ['list', 'approve', 'deny']) {
      const help = await cli(['approvals', command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`broker approvals ${command}`);
    }
    expect((await cli(['approvals', 'approve'])).code).toBe(2);
  });

  it('lists held jobs, approves one (it runs) and denies another with a reason', async () => {
    const first = await heldOrder('sku-cli-approve');
    const second = await heldOrder('sku-cli-deny');

    const list = await cli(['approvals', 'list', '--json']);
    expect(list.code).toBe(0);
    const jobs = (JSON.parse(list.stdout) as { jobs: Array<{ id: string; agent: string; input: unknown; rule: { index: number } }> }).jobs;
    expect(jobs.map((j) => j.id)).toEqual(expect.arrayContaining([first, second]));
    expect(jobs.find((j) => j.id === first)).toMatchObject({ agent: 'agent-a', input: { sku: 'sku-cli-approve', qty: 1 }, rule: { index: 0 } });
    const human = await cli(['approvals', 'list']);
    expect(human.stdout).toContain(first);
    expect(human.stdout).not.toContain('sku-cli-approve');

    const approved = await cli(['approvals', 'approve', first, '--reason', 'ok by cli', '--json']);
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ id: first, status: 'queued' });
    const done = await request(s.h.server).get(`/v1/jobs/${first}?waitMs=10000`).set(A).expect(200);
    expect(done.body).toMatchObject({ status: 'succeeded' });
    expect(await s.h.store.get(first)).toMatchObject({ decision: { outcome: 'approved', by: 'admin', reason: 'ok by cli' } });

    const denied = await cli(['approvals', 'deny', second, '--reason', 'not today']);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain(`denied ${second}`);
    const failed = await request(s.h.server).get(`/v1/jobs/${second}`).set(A).expect(200);
    expect(failed.body).toMatchObject({ status: 'failed', error: { code: 'APPROVAL_DENIED', message: 'An operator denied the job: not today' } });
    expect(s.upstream.count((r) => r.body.includes('sku-cli-deny'))).toBe(0);

    const again = await cli(['approvals', 'approve', second]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('409 CONFLICT');
    expect((await cli(['approvals', 'list'])).stdout).toBe('no jobs awaiting approval\n');
  });

  it('fails without a valid admin token', async () => {
    const wrong = await cli(['approvals', 'list'], { BROKER_ADMIN_TOKEN: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401 UNAUTHENTICATED');
  });
});
