import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { chromium, type Browser } from 'playwright-core';
import request from 'supertest';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { portOf, startApi, testConfig, type Harness } from '../api/harness';
import { waitFor } from '../helpers/wait-for';

/**
 * Bull Board at /admin/queues (docs/operations.md#bull-board-adminqueues), driven in Debian's headless
 * Chromium: the browser is challenged with HTTP Basic, the board lists every
 * queue of the broker with the right key prefix, and a failed job's error is
 * readable on the failed tab. `.ci/run` installs /usr/bin/chromium.
 */

const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const FAILURE = `upstream said: contact c_404 does not exist (${randomBytes(3).toString('hex')})`;

let h: Harness;
let browser: Browser;
let base: string;

beforeAll(async () => {
  h = await startApi('board', { config: testConfig({ admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } } }) });
  h.env.BROKER_ADMIN_TOKEN = `old-token,${ADMIN}`;
  // A plain-http host that is not loopback, as in a real deployment: Chromium treats 127.0.0.1 as
  // secure and would hide a CSP that upgrades the board's requests to https (helmet's default does).
  base = `http://broker.test:${portOf(h.server)}`;

  // A failed job in the demo queue, failed by a plain BullMQ worker: the board reads BullMQ, not the job record.
  const demo = new Queue(integrationQueueName('demo'), { connection: h.redis, prefix: bullPrefix(h.prefix, integrationQueueName('demo')) });
  await demo.add('demo.getContact', { tool: 'demo.getContact' }, { jobId: 'job_board_failed', attempts: 1 });
  const blocking = h.redis.duplicate({ maxRetriesPerRequest: null });
  const failer = new Worker(
    integrationQueueName('demo'),
    async () => {
      throw new Error(FAILURE);
    },
    { connection: blocking, prefix: bullPrefix(h.prefix, integrationQueueName('demo')) },
  );
  await waitFor(async () => (await demo.getJobState('job_board_failed')) === 'failed', { what: 'the job to fail' });
  await failer.close();
  await demo.close();
  blocking.disconnect();

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP broker.test 127.0.0.1',
    ],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

it('challenges a browser without credentials with Basic auth (401), and refuses a wrong password', async () => {
  const anonymous = await browser.newContext();
  const wrong = await browser.newContext({ httpCredentials: { username: 'admin', password: 'not-the-token' } });
  /** Chromium gets the challenge; Playwright then cancels the login dialog, so the navigation itself fails. */
  const challenge = async (context: typeof anonymous) => {
    const page = await context.newPage();
    const answer = page.waitForResponse(`${base}/admin/queues`);
    await page.goto(`${base}/admin/queues`).catch(() => undefined);
    return answer;
  };
  try {
    const res = await challenge(anonymous);
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toMatch(/^Basic realm="broker"/);
    expect((await challenge(wrong)).status()).toBe(401);
  } finally {
    await anonymous.close();
    await wrong.close();
  }
});

it('lists every queue and shows a failed job with its error', async () => {
  // Any user name: the password is what counts (here the second of two rotated tokens).
  const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN } });
  const blocked: string[] = [];
  try {
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) blocked.push(msg.text());
    });
    const res = await page.goto(`${base}/admin/queues`);
    expect(res!.status()).toBe(200);
    for (const name of ['tools-demo', 'tools-other', 'triggers', 'callbacks']) {
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: 10_000 });
    }
    await page.getByText('Loading').first().waitFor({ state: 'hidden', timeout: 10_000 });
    await page.screenshot({ path: '/tmp/bull-board-queues.png', fullPage: true });

    await page.goto(`${base}/admin/queues/queue/tools-demo?status=failed`);
    await page.getByText(FAILURE).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: '/tmp/bull-board-failed.png', fullPage: true });
    expect(blocked).toEqual([]);
  } finally {
    await context.close();
  }
});

it('is not there at all without an admin section (404)', async () => {
  const bare = await startApi('board-off');
  try {
    const res = await request(bare.server).get('/admin/queues').auth('admin', ADMIN);
    expect(res.status).toBe(404);
  } finally {
    await bare.close();
  }
});
