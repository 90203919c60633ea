import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSandboxServer, type ReceivedDelivery } from '@broker/sandbox';
import { ROOT, startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { containsPair, namedPairs, readmeQuickStart } from './readme-quick-start';

/**
 * The quick start, as a user runs it: the production entry points of the api
 * and the worker on the example config, against the sandbox API, which also
 * receives the triggers and callbacks (`GET /received`). Also checks that no
 * secret reaches a log line or a job.
 */
const prefix = uniquePrefix('e2e');
/** Every secret the example config names: the api and the worker refuse to start without one. */
const secrets = {
  AGENT_A_KEY: 'agent-a-e2e-key-0123456789',
  BROKER_ADMIN_TOKEN: 'admin-e2e-token-0123456789',
  DEMO_API_KEY: 'demo-e2e-upstream-key-0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_e2e_stripe_0123456789',
  GITHUB_WEBHOOK_SECRET: 'e2e-github-0123456789',
  SHOPIFY_WEBHOOK_SECRET: 'e2e-shopify-0123456789',
  ACME_WEBHOOK_SECRET: 'ZTJlLWFjbWUtMDEyMzQ1Njc4OQ==',
  // Hex, as `pnpm start` generates them: valid base64 for Standard Webhooks.
  TRIGGER_SIGNING_SECRET: '6e2e7472696767657273656372657430313233343536',
  CALLBACK_SIGNING_SECRET: '6e2e63616c6c6261636b73656372657430313233343536',
};
let sandbox: Server;
let sandboxUrl: string;
let api: RunningProcess;
let worker: RunningProcess;
let base: string;

beforeAll(async () => {
  sandbox = createSandboxServer({
    apiKey: secrets.DEMO_API_KEY,
    receiverSecrets: { trigger: secrets.TRIGGER_SIGNING_SECRET, callback: secrets.CALLBACK_SIGNING_SECRET },
  });
  await new Promise<void>((resolve) => sandbox.listen(0, '127.0.0.1', resolve));
  sandboxUrl = `http://127.0.0.1:${(sandbox.address() as AddressInfo).port}`;
  const example = JSON.parse(readFileSync(join(ROOT, 'broker.config.example.json'), 'utf8'));
  // The example points at the sandbox on :4010; this one listens on a free port.
  expect(example.triggerDelivery.url).toBe('http://127.0.0.1:4010/hooks/agent');
  example.integrations.demo.baseUrl = sandboxUrl;
  example.triggerDelivery.url = `${sandboxUrl}/hooks/agent`;
  const env = { BROKER_CONFIG: writeConfigFile(example), BROKER_REDIS_PREFIX: prefix, PORT: '0', ...secrets };
  [api, worker] = await Promise.all([startApp('api', env, 'api listening'), startApp('worker', env, 'worker ready')]);
  const port = /"port":(\d+)/.exec(api.output())![1];
  base = `http://127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all([api && stopApp(api), worker && stopApp(worker)]);
  sandbox.closeAllConnections();
  await new Promise((resolve) => sandbox.close(resolve));
  await dropPrefix(prefix);
});

const auth = { Authorization: `Bearer ${secrets.AGENT_A_KEY}` };

async function submit(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, job: (await res.json()) as { id: string; status: string } };
}

async function awaitJob(id: string) {
  const res = await fetch(`${base}/v1/jobs/${id}?waitMs=10000`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** Starts the line `curl` appends with its HTTP status in `shell()`. */
const STATUS_MARK = '__readme_http_status__';

/**
 * Runs one README command with bash, as a user would after `source .data/dev.env`.
 * `curl -s` shows no HTTP status and exits 0 on any answer, a 404 or a plain-text 502
 * alike, so a `curl` function defined first makes each curl of the command also print its
 * status on a line of its own (`-w`); those lines are split off the output, into `statuses`.
 */
async function shell(command: string): Promise<{ output: string; statuses: number[] }> {
  const script = `curl() { command curl -w '\\n${STATUS_MARK}%{http_code}\\n' "$@"; }\n${command}`;
  const { stdout } = await promisify(execFile)('bash', ['-c', script], {
    cwd: ROOT,
    // What .data/dev.env gives the user's shell; BROKER_URL points scripts/sign-webhook.mjs at this api.
    env: { PATH: process.env.PATH ?? '', ...secrets, BROKER_URL: base },
    timeout: 20_000,
  });
  const statuses: number[] = [];
  const output = stdout.replace(new RegExp(`\\n${STATUS_MARK}(\\d{3})\\n`, 'g'), (_, code: string) => {
    statuses.push(Number(code));
    return '';
  });
  return { output, statuses };
}

function parsed(output: string): unknown {
  try {
    return JSON.parse(output);
  } catch {
    return undefined;
  }
}

// First in the file: the sandbox has received nothing yet, as after a fresh `pnpm start`.
it("runs the README's quick start as written: every command succeeds and answers as the README shows", async () => {
  const steps = readmeQuickStart();
  expect(steps.length).toBeGreaterThanOrEqual(8);
  const apiHost = base.replace('http://', '');
  const sandboxHost = sandboxUrl.replace('http://', '');
  let jobId = '';
  /** Each command's HTTP statuses, one per curl it ran (of its last run, for a step run until its answer appears). */
  const statuses: { command: string; statuses: number[] }[] = [];
  for (const step of steps) {
    const command = step.command
      .replaceAll('localhost:8080', apiHost)
      .replace(/(?:localhost|127\.0\.0\.1):4010/g, sandboxHost)
      .replaceAll('<id>', jobId);
    // A delivery is asynchronous: a step that shows one is run again until it appears (or 15 s pass).
    const run = step.shows
      ? await waitFor(
          async () => {
            const result = await shell(command);
            return namedPairs(step.shows!).every((pair) => containsPair(parsed(result.output), pair)) && result;
          },
          { timeoutMs: 15_000, what: `the answer the README shows for: ${step.command}` },
        ).catch(async (err: Error) => {
          const { output, statuses: codes } = await shell(command);
          const missing = namedPairs(step.shows!)
            .filter((pair) => !containsPair(parsed(output), pair))
            .map((pair) => pair.text);
          throw new Error(`${err.message}\nmissing ${missing.join(', ')} in (HTTP ${codes.join(', ')}):\n${output}`);
        })
      : await shell(command);
    const { output } = run;
    statuses.push({ command: step.command, statuses: run.statuses });
    // Every curl got an answer (000: none), and none a 4xx or 5xx, whatever its body.
    expect([step.command, run.statuses.filter((code) => code < 100 || code >= 400)]).toEqual([step.command, []]);
    if (/^curl /.test(step.command)) expect([step.command, run.statuses.length]).toEqual([step.command, 1]);
    const answer = parsed(output) as { id?: string; type?: string } | undefined;
    // A problem+json answer is a failed step even under 400.
    expect([step.command, answer?.type?.startsWith('urn:broker:error') ? answer : 'ok']).toEqual([step.command, 'ok']);
    if (step.command.includes('sign-webhook.mjs')) expect(output.startsWith('200 ')).toBe(true);
    if (!jobId && answer?.id?.startsWith('job_')) jobId = answer.id;
  }
  expect(jobId).not.toBe('');
  // The README says so: the first submit is accepted (202), the long-poll finds the job done (200).
  expect(statuses.find((s) => s.command.startsWith('curl -s -X POST localhost:8080/v1/jobs'))?.statuses).toEqual([202]);
  expect(statuses.find((s) => s.command.includes('?waitMs='))?.statuses).toEqual([200]);
  // The callback step shows an answer (README), so it is checked like the trigger's.
  expect(steps.find((s) => s.command.includes('/received?kind=callback'))?.shows).toMatch(/"kind":"callback"/);
});

it('runs the README example: submit, long-poll, succeeded', async () => {
  const { status, job } = await submit({ tool: 'demo.getContact', input: { id: 'c_123' } });
  expect(status).toBe(202);
  expect(job.status).toBe('queued');
  const done = await awaitJob(job.id);
  expect(done).toMatchObject({ id: job.id, status: 'succeeded', attempts: 1, result: { id: 'c_123' } });
});

it('creates one order for two submissions with the same Idempotency-Key', async () => {
  // Not the README's order-42: the quick-start test above sent that one already.
  const first = await submit({ tool: 'demo.createOrder', input: { sku: 'sku_1', qty: 2 } }, { 'Idempotency-Key': 'order-e2e-43' });
  const again = await submit({ tool: 'demo.createOrder', input: { sku: 'sku_1', qty: 2 } }, { 'Idempotency-Key': 'order-e2e-43' });
  expect([first.status, again.status]).toEqual([202, 200]);
  expect(again.job.id).toBe(first.job.id);
  const done = await awaitJob(first.job.id);
  expect(done).toMatchObject({ status: 'succeeded', result: { sku: 'sku_1', qty: 2, status: 'created' } });
});

it('fails a missing contact as NOT_FOUND, not retried', async () => {
  const { job } = await submit({ tool: 'demo.getContact', input: { id: 'missing-1' } });
  expect(await awaitJob(job.id)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NOT_FOUND', retryable: false, upstreamStatus: 404 } });
});

/** What the sandbox received, newest first, as `curl localhost:4010/received` shows it. */
async function received(): Promise<ReceivedDelivery[]> {
  const res = await fetch(`${sandboxUrl}/received`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { received: ReceivedDelivery[] }).received;
}

it("runs the README's webhook demo: a signed Stripe event ends as a verified trigger at the sandbox's /received", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/sign-webhook.mjs'), 'stripe', '--url', base, '--send'], {
    env: { PATH: process.env.PATH ?? '', STRIPE_WEBHOOK_SECRET: secrets.STRIPE_WEBHOOK_SECRET },
  });
  const answer = JSON.parse(stdout.slice(stdout.indexOf(' ') + 1)) as { id: string; eventId: string; duplicate: boolean };
  expect(stdout.startsWith('200 ')).toBe(true);
  expect(answer).toMatchObject({ id: `stripe:${answer.eventId}`, duplicate: false });

  const trigger = await waitFor(async () => (await received()).find((d) => d.kind === 'trigger' && (d.body as { eventId?: string }).eventId === answer.eventId), {
    timeoutMs: 15_000,
    what: 'the trigger at the sandbox',
  });
  expect(trigger).toMatchObject({
    path: '/hooks/agent',
    verified: true,
    webhookId: expect.any(String),
    summary: `trigger process_successful_payment from stripe (payment_intent.succeeded, event ${answer.eventId}), signature verified`,
    body: { trigger: 'process_successful_payment', source: 'stripe', type: 'payment_intent.succeeded', payload: { id: answer.eventId } },
  });
  expect(trigger.idempotencyKey).toBe(trigger.webhookId);
});

it("posts a job's completion callback to the sandbox's /callbacks", async () => {
  const { status, job } = await submit({ tool: 'demo.getContact', input: { id: 'c_callback' }, callbackUrl: `${sandboxUrl}/callbacks` });
  expect(status).toBe(202);
  const callback = await waitFor(async () => (await received()).find((d) => d.kind === 'callback' && (d.body as { id?: string }).id === job.id), {
    timeoutMs: 15_000,
    what: 'the callback at the sandbox',
  });
  expect(callback).toMatchObject({ verified: true, body: { id: job.id, status: 'succeeded', result: { id: 'c_callback' } } });
});

it('never writes a secret to a log line', () => {
  const logs = api.output() + worker.output();
  expect(logs).toContain('upstream call');
  for (const value of Object.values(secrets)) expect(logs).not.toContain(value);
});

it('drains and exits 0 on SIGTERM', async () => {
  api.child.kill('SIGTERM');
  worker.child.kill('SIGTERM');
  expect(await Promise.all([api.exited, worker.exited])).toEqual([0, 0]);
});
