import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { alertsSchema } from '@broker/shared/config/alerts-schema';
import { createLogger } from '@broker/shared/logger';
import { createMetrics } from '@broker/shared/metrics';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { redisKeys } from '@broker/redis/keys';
import { Alerter, redactSample, type Alert } from '@broker/worker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/** The Alerter alone: windows and counts, Slack bodies, a secret URL, a receiver that fails, no receiver. */
const prefix = uniquePrefix('alerter');
let redis: Redis;
let receiver: StubServer;
let status = 200;
const SLACK_URL_PATH = '/services/T000/B000/very-secret-token';

const alert = (key = 'demo.getThing'): Alert => ({
  kind: 'schema_mismatch',
  key,
  severity: 'critical',
  summary: `"${key}" got an answer that breaks its output schema`,
  details: { tool: key, sample: redactSample({ a: 'x' }) },
});

function alerter(alerts: Record<string, unknown>, env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const a = new Alerter({
    redis,
    keys: redisKeys(`${prefix}-${Math.random().toString(36).slice(2)}`),
    config: alertsSchema.parse(alerts),
    secrets: envSecretsProvider(env),
    logger: createLogger({ name: 'alerter-test', level: 'debug', destination: out }),
    metrics,
  });
  return { a, lines, metrics };
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  receiver = await StubServer.start(() => ({ status }));
});

afterAll(async () => {
  await receiver.close();
  redis.disconnect();
  await dropPrefix(prefix);
});

beforeEach(() => {
  receiver.requests.length = 0;
  status = 200;
});

it('sends one alert per cause per window, and the next one counts what the window held back', async () => {
  const { a } = alerter({ webhook: { format: 'slack', urlSecret: 'SLACK_URL' }, windowMs: 300 }, { SLACK_URL: `${receiver.url}${SLACK_URL_PATH}` });
  for (let i = 0; i < 3; i++) await a.raise(alert());
  await a.raise(alert('other.tool'));
  await a.settled();
  expect(receiver.requests.map((r) => JSON.parse(r.body).text as string)).toEqual([
    expect.stringContaining('"demo.getThing" got an answer'),
    expect.stringContaining('"other.tool" got an answer'),
  ]);

  await waitFor(async () => (await a.raise(alert()), receiver.requests.length === 3), { timeoutMs: 3000, what: 'the next window' });
  await a.settled();
  const third = JSON.parse(receiver.requests[2]!.body) as { text: string; blocks: { type: string }[] };
  // Two held back in the first window, plus the ones that found the window still closed, plus this one.
  expect(third.text).toMatch(/\((\d+) times since the last alert\)/);
  expect(Number(/\((\d+) times/.exec(third.text)![1])).toBeGreaterThanOrEqual(3);
  expect(third.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
  expect(receiver.requests[0]!.path).toBe(SLACK_URL_PATH);
});

it('retries a failing receiver, then counts the alert failed and logs without the URL', async () => {
  status = 503;
  const { a, lines, metrics } = alerter({ webhook: { format: 'slack', urlSecret: 'SLACK_URL' } }, { SLACK_URL: `${receiver.url}${SLACK_URL_PATH}` });
  await a.raise(alert());
  await a.settled();
  expect(receiver.requests).toHaveLength(3);
  expect(await metrics.registry.getSingleMetricAsString('broker_alert_notifications_total')).toMatch(/kind="schema_mismatch",outcome="failed"\} 1/);
  expect(lines.find((l) => l.msg === 'alert could not be delivered')).toMatchObject({ error: 'receiver answered 503' });
  expect(JSON.stringify(lines)).not.toContain('very-secret-token');
});

it('without a webhook, an alert is a log line and a metric', async () => {
  const { a, lines, metrics } = alerter({});
  await a.raise(alert());
  await a.settled();
  expect(receiver.requests).toHaveLength(0);
  expect(lines.find((l) => l.alert === 'schema_mismatch')).toMatchObject({ level: 40, cause: 'schema_mismatch:demo.getThing', count: 1 });
  expect(await metrics.registry.getSingleMetricAsString('broker_alert_notifications_total')).toMatch(/outcome="logged"\} 1/);
});

it('raiseOnce sends a cause once, ever', async () => {
  const { a } = alerter(
    { webhook: { format: 'standard', url: `${receiver.url}/alerts`, secret: 'SIGN' }, windowMs: 100 },
    { SIGN: `whsec_${Buffer.from('k'.repeat(24)).toString('base64')}` },
  );
  await a.raiseOnce({ ...alert(), kind: 'api_deprecation', key: 'x/1' });
  await a.raiseOnce({ ...alert(), kind: 'api_deprecation', key: 'x/1' });
  await a.settled();
  expect(receiver.requests).toHaveLength(1);
  expect(receiver.requests[0]!.headers['webhook-signature']).toMatch(/^v1,/);
});

it('refuses an alerts section without a target it can use', () => {
  expect(alertsSchema.safeParse({ webhook: { format: 'standard', url: 'http://x.test/' } }).success).toBe(false);
  expect(alertsSchema.safeParse({ webhook: { format: 'slack', url: 'http://x.test/', urlSecret: 'S' } }).success).toBe(false);
  expect(alertsSchema.safeParse({ webhook: { format: 'slack' } }).success).toBe(false);
});
