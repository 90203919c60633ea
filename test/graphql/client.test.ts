import { parseConfig } from '@broker/shared/config/load';
import { createIntegrationClients, GraphqlClient, ToolError, type ToolContext } from '@broker/tools';
import { testLogger } from '../helpers/broker';
import { builtinIntegrationConfig, KIT_SECRETS, ShopifyStub } from '../kit';
import { envSecretsProvider } from '@broker/tools/secrets/provider';

/** The GraphQL client over a real HTTP client, against the Shopify stub. */
let stub: ShopifyStub;
const PATH = '/admin/api/2026-10/graphql.json';
const ORDERS = 'query Orders($first: Int!, $after: String) { orders(first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }';

function context(pauses: { ms: number; reason: string }[] = []): Pick<ToolContext, 'http' | 'signal' | 'pauseIntegration'> {
  const config = parseConfig({ integrations: { shopify: builtinIntegrationConfig('shopify', stub.url) } });
  const client = createIntegrationClients(config, envSecretsProvider(KIT_SECRETS), testLogger()).get('shopify')!;
  return {
    http: client.forCall({ tool: 'shopify.test', jobId: 'job_1', attempt: 1, connection: 'default', write: false, requestId: 'r1' }),
    signal: new AbortController().signal,
    pauseIntegration: async (ms, reason) => {
      pauses.push({ ms, reason });
    },
  };
}

beforeEach(async () => {
  stub = await ShopifyStub.start({ bucket: { maximumAvailable: 100, restoreRate: 100 }, costOf: (op) => (op === 'Orders' ? 40 : undefined) });
  stub.seedOrders(10);
});
afterEach(() => stub.close());

describe('GraphqlClient', () => {
  it('returns data and keeps the cost block', async () => {
    const client = new GraphqlClient(context(), { path: PATH });
    const data = await client.request<{ orders: { nodes: unknown[] } }>(ORDERS, { first: 2 }, 'Orders');
    expect(data.orders.nodes).toHaveLength(2);
    expect(client.lastCost).toMatchObject({ requestedQueryCost: 40, throttleStatus: { maximumAvailable: 100, restoreRate: 100 } });
  });

  it('pauses the integration before the bucket runs dry, and holds its own next call until it has refilled', async () => {
    const pauses: { ms: number; reason: string }[] = [];
    const client = new GraphqlClient(context(pauses), { path: PATH });
    // 100 → 60 → 20 left: the third call of 40 would be throttled, so the client waits ~200 ms before it.
    await client.request(ORDERS, { first: 1 }, 'Orders');
    expect(pauses).toEqual([]);
    await client.request(ORDERS, { first: 1 }, 'Orders');
    expect(pauses).toHaveLength(1);
    expect(pauses[0]!.reason).toBe('graphql cost budget');
    expect(pauses[0]!.ms).toBeGreaterThan(0);
    expect(pauses[0]!.ms).toBeLessThanOrEqual(200);
    await client.request(ORDERS, { first: 1 }, 'Orders');
    const [, second, third] = stub.requests;
    // The hold starts when the second answer arrives, after the second request did.
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(pauses[0]!.ms);
    // Never throttled on the way.
    expect(stub.throttleStatus().currentlyAvailable).toBeGreaterThanOrEqual(0);
  });

  it('turns a THROTTLED answer into RATE_LIMITED with the wait the bucket needs', async () => {
    stub.setAvailable(0);
    const client = new GraphqlClient(context(), { path: PATH });
    const err = (await client.request(ORDERS, { first: 1 }, 'Orders').catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.retryable).toBe(true);
    // 40 points at 100 a second, less what refilled between setAvailable and the call.
    expect(err.retryAfterMs).toBeGreaterThan(300);
    expect(err.retryAfterMs).toBeLessThanOrEqual(400);
  });

  it('ends the try as RATE_LIMITED rather than wait longer than maxInlineWaitMs', async () => {
    const client = new GraphqlClient(context(), { path: PATH, maxInlineWaitMs: 50 });
    await client.request(ORDERS, { first: 1 }, 'Orders');
    await client.request(ORDERS, { first: 1 }, 'Orders');
    await expect(client.request(ORDERS, { first: 1 }, 'Orders')).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect(stub.count()).toBe(2);
  });

  it('maps ACCESS_DENIED, validation errors and HTTP failures', async () => {
    const client = new GraphqlClient(context(), { path: PATH });
    stub.denied.add('orders');
    await expect(client.request(ORDERS, { first: 1 }, 'Orders')).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('read_orders') });
    await expect(client.request('{ orders(first: 1) { nodes { nope } } }')).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('undefinedField') });
    await expect(client.request('{ orders(first: 1) { nodes { id } ')).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('Syntax Error') });
    await expect(client.request('query Q($x: Int!) { orders(first: $x) { nodes { id } } }', {})).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    stub.inject(503);
    await expect(client.request(ORDERS, { first: 1 }, 'Orders')).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 503 });
  });

  it('refuses a query costlier than the whole bucket for good', async () => {
    const client = new GraphqlClient(context(), { path: PATH });
    await expect(client.request('query Big { orders(first: 250) { nodes { id customer { id } } } }', {}, 'Big')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      retryable: false,
      message: expect.stringContaining('MAX_COST_EXCEEDED'),
    });
  });
});
