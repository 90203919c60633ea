import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { createLogger } from '@broker/shared/logger';
import { createMetrics } from '@broker/shared/metrics';
import { DeprecationStore } from '@broker/redis/integrations/deprecation-store';
import { redisKeys } from '@broker/redis/keys';
import { DeprecationWatch, linkWithRel, parseDeprecation, readDeprecationHeaders } from '@broker/worker';
import { asyncConfig, startBroker, type Broker } from '../async-tools/harness';
import { bearer } from '../api/harness';
import { StubServer, type StubReply } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * Upstream Deprecation / Sunset headers (RFC 9745, RFC 8594) and providers'
 * notices: recorded per integration and API version, shown by
 * GET /v1/integrations, and alerted once per version.
 */
const ALERT_SECRET = `whsec_${Buffer.from('deprecation-alert-key-0123456').toString('base64')}`;
const ADMIN = 'admin-token-async';
let upstream: StubServer;
let receiver: StubServer;
let broker: Broker;

const integrations = async () => {
  const res = await request(broker.h.server).get('/v1/integrations').set(bearer(ADMIN));
  expect(res.status).toBe(200);
  return new Map((res.body.integrations as { name: string; deprecations: Record<string, unknown>[] }[]).map((i) => [i.name, i.deprecations]));
};
const deprecationAlerts = () =>
  receiver.requests
    .map((r) => new Webhook(ALERT_SECRET).verify(r.body, r.headers as Record<string, string>) as { data: { kind: string; cause: string; details: Record<string, unknown> } })
    .filter((a) => a.data.kind === 'api_deprecation');

beforeAll(async () => {
  upstream = await StubServer.start((req): StubReply => {
    if (req.path === '/legacy/thing') {
      return {
        body: { ok: true },
        headers: {
          Deprecation: '@1735689600',
          Sunset: 'Thu, 31 Dec 2026 23:59:59 GMT',
          Link: '<https://legacy.example/changelog>; rel="deprecation", <https://legacy.example/api>; rel="alternate"',
        },
      };
    }
    if (req.path === '/shop/orders')
      return { body: [], headers: { 'X-Shopify-API-Version': '2024-01', 'X-Shopify-API-Deprecated-Reason': 'https://shopify.dev/changelog/orders-field-removed' } };
    return { body: { ok: true } };
  });
  receiver = await StubServer.start(() => ({ status: 204 }));
  const config = asyncConfig({
    integrations: {
      legacy: { baseUrl: upstream.url, apiVersion: { header: 'Legacy-Version', value: '2023-01-01' }, tools: [{ name: 'legacy.getThing', method: 'GET', path: '/legacy/thing' }] },
      shop: { baseUrl: upstream.url, tools: [{ name: 'shop.listOrders', method: 'GET', path: '/shop/orders' }] },
      fresh: { baseUrl: upstream.url, tools: [{ name: 'fresh.ping', method: 'GET', path: '/fresh' }] },
    },
    extra: { alerts: { webhook: { format: 'standard', url: `${receiver.url}/alerts`, secret: 'ALERT_SIGNING_SECRET' } } },
  });
  broker = await startBroker('deprecation', config, { ALERT_SIGNING_SECRET: ALERT_SECRET });
});

afterAll(async () => {
  await broker.close();
  await upstream.close();
  await receiver.close();
});

it('shows what the headers said in GET /v1/integrations, per integration and API version', async () => {
  for (const tool of ['legacy.getThing', 'legacy.getThing', 'shop.listOrders', 'fresh.ping']) {
    const { id } = await broker.submit(tool, {});
    expect((await broker.settled(id)).status).toBe('succeeded');
  }
  const seen = await waitFor(
    async () => {
      const all = await integrations();
      return all.get('legacy')!.length > 0 && all.get('shop')!.length > 0 ? all : undefined;
    },
    { what: 'deprecations recorded' },
  );
  expect(seen.get('legacy')).toEqual([
    {
      apiVersion: '2023-01-01',
      deprecatedAt: '2025-01-01T00:00:00.000Z',
      sunsetAt: '2026-12-31T23:59:59.000Z',
      link: 'https://legacy.example/changelog',
      notice: null,
      signals: ['deprecation', 'sunset'],
      tool: 'legacy.getThing',
      firstSeenAt: expect.any(String),
      lastSeenAt: expect.any(String),
    },
  ]);
  // No version configured: the one the upstream says it served.
  expect(seen.get('shop')).toEqual([
    expect.objectContaining({
      apiVersion: '2024-01',
      deprecatedAt: null,
      sunsetAt: null,
      notice: 'https://shopify.dev/changelog/orders-field-removed',
      signals: ['x-shopify-api-deprecated-reason'],
    }),
  ]);
  expect(seen.get('fresh')).toEqual([]);

  const metrics = await broker.worker.metrics.registry.getSingleMetricAsString('broker_api_sunset_timestamp_seconds');
  expect(metrics).toContain(`broker_api_sunset_timestamp_seconds{integration="legacy",api_version="2023-01-01"} ${Date.parse('2026-12-31T23:59:59Z') / 1000}`);
});

it('alerts once per integration and version, across processes', async () => {
  await waitFor(() => deprecationAlerts().length === 2, { what: 'two deprecation alerts' });
  expect(
    deprecationAlerts()
      .map((a) => a.data.cause)
      .sort(),
  ).toEqual(['api_deprecation:legacy/2023-01-01', 'api_deprecation:shop/2024-01']);
  // Another worker (no memory of its own) sees the same notice: recorded again, not alerted again.
  const other = new DeprecationWatch(new DeprecationStore(broker.h.redis, redisKeys(broker.h.prefix)), broker.worker.escalation.alerter, createMetrics({ defaultMetrics: false }));
  other.observer('legacy', 'legacy.getThing', '2023-01-01', createLogger({ name: 't', level: 'silent' }))({ status: 200, headers: { deprecation: 'true' } });
  const { id } = await broker.submit('legacy.getThing', {});
  await broker.settled(id);
  await waitFor(async () => ((await integrations()).get('legacy')![0]!.deprecatedAt === null ? true : undefined), { what: 'the second sighting' });
  await broker.worker.escalation.alerter.settled();
  expect(deprecationAlerts()).toHaveLength(2);
});

describe('reading the headers', () => {
  it("RFC 9745 dates, legacy values, Sunset, Link relations and providers' notices", () => {
    expect(parseDeprecation('@1688169599')).toBe('2023-06-30T23:59:59.000Z');
    expect(parseDeprecation('true')).toBeNull();
    expect(parseDeprecation('Sun, 11 Nov 2018 23:59:59 GMT')).toBe('2018-11-11T23:59:59.000Z');
    expect(linkWithRel('<https://a.example/x>; rel="alternate", <https://a.example/sunset>; rel="sunset"', ['deprecation', 'sunset'])).toBe('https://a.example/sunset');
    expect(readDeprecationHeaders({ 'content-type': 'application/json' })).toBeUndefined();
    expect(readDeprecationHeaders({ warning: '199 - "miscellaneous"' })).toBeUndefined();
    expect(readDeprecationHeaders({ warning: '299 - "This API is deprecated and will be removed by Summer \'22."' })).toMatchObject({
      signals: ['warning'],
      notice: expect.stringContaining('deprecated'),
    });
    expect(readDeprecationHeaders({ 'stripe-notice': 'A newer API version is available: 2026-01-28.clover' })).toMatchObject({ signals: ['stripe-notice'], deprecatedAt: null });
    expect(readDeprecationHeaders({ sunset: 'not a date' })).toMatchObject({ signals: ['sunset'], sunsetAt: null });
  });
});
