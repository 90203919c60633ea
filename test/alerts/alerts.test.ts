import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { createLogger } from '@broker/shared/logger';
import { bearer } from '../api/harness';
import { asyncConfig, startBroker, type Broker } from '../async-tools/harness';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { standardEvent } from '../webhooks/signers';

/**
 * Every alert cause, raised for real against stub upstreams, arrives once at a
 * local receiver as a Standard-Webhooks-signed body, however often the cause
 * recurs within the window; each is also a log line and a metric.
 */
const ALERT_SECRET = `whsec_${Buffer.from('alert-signing-key-0123456789ab').toString('base64')}`;
let upstream: StubServer;
let receiver: StubServer;
let agentHook: StubServer;
let broker: Broker;
const lines: Record<string, unknown>[] = [];

interface Received {
  type: string;
  data: { kind: string; cause: string; count: number; summary: string; severity: string; details: Record<string, unknown> };
}
const received = (): Received[] => receiver.requests.map((r) => new Webhook(ALERT_SECRET).verify(r.body, r.headers as Record<string, string>) as Received);
const alertsOf = (cause: string) => received().filter((a) => a.data.cause === cause);
const arrived = (cause: string) => waitFor(() => alertsOf(cause)[0], { timeoutMs: 8000, what: `alert ${cause}` });

beforeAll(async () => {
  upstream = await StubServer.start((req) => {
    if (req.path.startsWith('/crm/')) return { status: 401, body: { error: 'revoked' } };
    if (req.path.startsWith('/down/')) return { status: 500, body: { error: 'boom' } };
    if (req.path.startsWith('/tripped/')) return { status: 502, body: {} };
    if (req.path === '/token') return { status: 400, body: { error: 'invalid_grant', error_description: 'refresh token revoked' } };
    if (req.path === '/drift/thing') return { body: { id: 5, owner: { email: 'someone@example.com' }, tags: ['vip'] } };
    return { status: 404, body: {} };
  });
  receiver = await StubServer.start(() => ({ status: 204 }));
  agentHook = await StubServer.start(() => ({ status: 410 }));
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const ping = (integration: string) => ({ name: `${integration}.call`, method: 'GET', path: `/${integration}/x` });
  const config = asyncConfig({
    integrations: {
      crm: { baseUrl: upstream.url, auth: { type: 'apiKey', secret: 'CRM_KEY' }, retry: { attempts: 1 }, tools: [ping('crm')] },
      down: { baseUrl: upstream.url, retry: { attempts: 1 }, circuitBreaker: { failureThreshold: 100, recoveryTimeoutMs: 60_000 }, tools: [ping('down')] },
      tripped: { baseUrl: upstream.url, retry: { attempts: 1 }, circuitBreaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000 }, tools: [ping('tripped')] },
      sso: {
        baseUrl: upstream.url,
        retry: { attempts: 1 },
        auth: {
          type: 'oauth2',
          grant: 'authorization_code',
          tokenUrl: `${upstream.url}/token`,
          authorizeUrl: `${upstream.url}/authorize`,
          clientId: 'broker',
          clientSecret: 'SSO_CLIENT_SECRET',
        },
        tools: [ping('sso')],
      },
      drift: {
        baseUrl: upstream.url,
        tools: [{ name: 'drift.getThing', method: 'GET', path: '/drift/thing', output: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }],
      },
    },
    extra: {
      routes: [{ source: 'acme', event: '*', trigger: 'acme_any' }],
      triggerDelivery: { url: `${agentHook.url}/hooks/agent`, secret: 'TRIGGER_SIGNING_SECRET' },
      alerts: {
        webhook: { format: 'standard', url: `${receiver.url}/alerts`, secret: 'ALERT_SIGNING_SECRET' },
        windowMs: 60_000,
        checkIntervalMs: 50,
        circuitOpenMs: 200,
        failureRate: { threshold: 0.5, minJobs: 3, windowMs: 60_000 },
        deadLetterGrowth: 3,
      },
    },
  });
  broker = await startBroker(
    'alerts',
    config,
    { CRM_KEY: 'crm-key', ALERT_SIGNING_SECRET: ALERT_SECRET, SSO_CLIENT_SECRET: 'sso-secret', BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    { logger: createLogger({ name: 'alerts-test', level: 'info', destination: out }) },
  );
});

afterAll(async () => {
  await broker.close();
  await Promise.all([upstream.close(), receiver.close(), agentHook.close()]);
});

const failed = async (tool: string, n: number) => {
  const jobs = await Promise.all(Array.from({ length: n }, () => broker.submit(tool, {})));
  return Promise.all(jobs.map((j) => broker.settled(j.id)));
};

it('a connection whose credentials are refused after a retry needs re-authorisation', async () => {
  const jobs = await failed('crm.call', 2);
  expect(jobs.map((j) => j.error?.code)).toEqual(['AUTHENTICATION_FAILED', 'AUTHENTICATION_FAILED']);
  const alert = await arrived('connection_needs_reauth:crm/default');
  expect(alert).toMatchObject({
    type: 'broker.alert.connection_needs_reauth',
    data: { kind: 'connection_needs_reauth', severity: 'critical', details: { integration: 'crm', connection: 'default' } },
  });
  expect(JSON.stringify(alert)).not.toContain('crm-key');
});

it('an OAuth connection whose refresh token the provider refuses (invalid_grant) needs re-authorisation', async () => {
  const seeded = await request(broker.h.server)
    .put('/v1/integrations/sso/connections/default/token')
    .set(bearer('admin-token-async'))
    .send({ accessToken: 'at-expiring', refreshToken: 'rt-revoked', expiresIn: 30 });
  expect(seeded.status).toBe(204);
  const [job] = await failed('sso.call', 1);
  expect(job!.error?.code).toBe('AUTHENTICATION_FAILED');
  const alert = await arrived('connection_needs_reauth:sso/default');
  expect(alert.data.details).toMatchObject({ integration: 'sso', connection: 'default', reason: 'invalid_grant' });
  expect(JSON.stringify(alert)).not.toContain('rt-revoked');
});

it('jobs failing for good with UPSTREAM_ERROR above the rate, and the dead letters they leave', async () => {
  await failed('down.call', 3);
  const rate = await arrived('job_failure_rate:down');
  expect(rate.data.details).toMatchObject({ integration: 'down', failed: 3, finished: 3, lastCode: 'UPSTREAM_ERROR' });
  const dead = await arrived('dead_letters:tools-down');
  expect(dead.data.details).toMatchObject({ queue: 'tools-down', failed: 3 });
});

it('a circuit that stays open past the threshold', async () => {
  await failed('tripped.call', 1);
  const alert = await arrived('circuit_open:tripped');
  expect(alert.data.details).toMatchObject({ integration: 'tripped', state: 'open' });
  expect(alert.data.details.openForMs as number).toBeGreaterThanOrEqual(200);
});

it('an answer that breaks the output schema: the tool, the field paths, a redacted sample', async () => {
  const [job] = await failed('drift.getThing', 1);
  expect(job!.error?.code).toBe('SCHEMA_MISMATCH');
  const alert = await arrived('schema_mismatch:drift.getThing');
  expect(alert.data.details).toEqual({
    integration: 'drift',
    tool: 'drift.getThing',
    fields: [{ path: '/id', problem: expect.any(String) }],
    sample: { id: '<integer>', owner: { email: '<string>' }, tags: ['<string>'] },
    jobId: job!.id,
  });
  expect(JSON.stringify(alert)).not.toContain('someone@example.com');
});

it('a trigger delivery that gave up', async () => {
  const event = standardEvent({ body: JSON.stringify({ type: 'invoice.paid', data: { id: 'inv_9' } }) });
  expect((await broker.hook('acme', event)).status).toBe(200);
  const alert = await arrived('trigger_delivery_exhausted:acme_any');
  expect(alert.data.details).toMatchObject({ trigger: 'acme_any', lastStatus: 410, attempts: 1 });
});

it('sends each cause once per window, logs it and counts it', async () => {
  // The causes again, within the window: counted, not sent.
  await failed('crm.call', 2);
  await failed('down.call', 2);
  await failed('drift.getThing', 1);
  for (let i = 0; i < 3; i++) await broker.worker.escalation.monitor.check();
  await broker.worker.escalation.alerter.settled();

  const causes = received().map((a) => a.data.cause);
  for (const cause of [
    'connection_needs_reauth:crm/default',
    'connection_needs_reauth:sso/default',
    'job_failure_rate:down',
    'dead_letters:tools-down',
    'circuit_open:tripped',
    'schema_mismatch:drift.getThing',
    'trigger_delivery_exhausted:acme_any',
  ]) {
    expect(causes.filter((c) => c === cause)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === `alert: ${alertsOf(cause)[0]!.data.summary}`)).toHaveLength(1);
  }
  const metrics = await broker.worker.metrics.registry.getSingleMetricAsString('broker_alert_notifications_total');
  expect(metrics).toMatch(/broker_alert_notifications_total\{kind="schema_mismatch",outcome="sent"\} 1$/m);
  expect(metrics).toMatch(/broker_alert_notifications_total\{kind="schema_mismatch",outcome="suppressed"\} 1$/m);
  // Two 401s in the first test (one sent, one counted), two more here.
  expect(metrics).toMatch(/broker_alert_notifications_total\{kind="connection_needs_reauth",outcome="suppressed"\} 3$/m);
  const raised = await broker.worker.metrics.registry.getSingleMetricAsString('broker_alerts_total');
  expect(raised).toMatch(/broker_alerts_total\{kind="schema_mismatch"\} 2$/m);
});
