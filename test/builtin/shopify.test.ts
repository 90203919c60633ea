import { builtinIntegrationConfig, runTool, ShopifyStub } from '../kit';

/** The Shopify Admin GraphQL tools against the Shopify stub. */
let stub: ShopifyStub;
beforeAll(async () => {
  // A bucket large enough that these tests never wait; the cost test below uses a small one.
  stub = await ShopifyStub.start({ bucket: { maximumAvailable: 100_000, restoreRate: 100_000 } });
  stub.seedOrders(120);
});
afterAll(() => stub.close());

const run = (tool: string, input: unknown, extra: Partial<Parameters<typeof runTool>[0]> = {}) =>
  runTool({ config: { integrations: { shopify: builtinIntegrationConfig('shopify', stub.url) } }, tool, input, ...extra });

describe('shopify built-in tools', () => {
  it('listOrders pages through orders with the access token header, on the pinned version path', async () => {
    const progress: unknown[] = [];
    const out = (await run('shopify.listOrders', { pageSize: 50 }, { progress })) as { orders: { name: string }[]; pages: number; truncated: boolean; nextCursor: string | null };
    expect(out).toMatchObject({ pages: 3, truncated: false, nextCursor: null });
    expect(out.orders).toHaveLength(120);
    expect(out.orders[0]).toMatchObject({ name: '#1001', totalPriceSet: { shopMoney: { amount: '10.00', currencyCode: 'USD' } }, customer: { displayName: 'Buyer 1' } });
    expect(progress).toEqual([
      { page: 1, records: 50 },
      { page: 2, records: 100 },
      { page: 3, records: 120 },
    ]);
    const req = stub.requests.at(-1)!;
    expect(req.path).toBe('/admin/api/2026-10/graphql.json');
    expect(req.headers['x-shopify-access-token']).toBe('shpat_kit');
    expect(req.headers.authorization).toBeUndefined();
    expect(JSON.parse(req.body)).toMatchObject({ operationName: 'ListOrders', variables: { first: 50, after: expect.any(String) } });
  });

  it('listOrders filters with Shopify search syntax and stops at maxRecords with a resume cursor', async () => {
    const out = (await run('shopify.listOrders', { query: 'financial_status:paid', pageSize: 25, maxRecords: 30 })) as {
      orders: { displayFinancialStatus: string }[];
      truncated: boolean;
      nextCursor: string;
    };
    expect(out.truncated).toBe(true);
    expect(out.orders).toHaveLength(30);
    expect(out.orders.every((o) => o.displayFinancialStatus === 'PAID')).toBe(true);
    const rest = (await run('shopify.listOrders', { query: 'financial_status:paid', after: out.nextCursor })) as { orders: unknown[] };
    expect(rest.orders).toHaveLength(80 - 30);
  });

  it('getOrder accepts a numeric id or a gid, and answers NOT_FOUND for a missing order', async () => {
    const out = await run('shopify.getOrder', { id: '450789470' });
    expect(out).toMatchObject({ id: 'gid://shopify/Order/450789470', name: '#1002', lineItems: { nodes: [{ sku: 'MUG-1', quantity: 1 }] } });
    await expect(run('shopify.getOrder', { id: 'gid://shopify/Order/450789470' })).resolves.toMatchObject({ name: '#1002' });
    await expect(run('shopify.getOrder', { id: '1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(run('shopify.getOrder', { id: 'gid://shopify/Product/1' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('maps a missing scope to PERMISSION_DENIED and a bad token to AUTHENTICATION_FAILED', async () => {
    stub.denied.add('orders');
    try {
      await expect(run('shopify.getOrder', { id: '450789470' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      stub.denied.clear();
    }
    await expect(run('shopify.getOrder', { id: '450789470' }, { secrets: { SHOPIFY_ADMIN_TOKEN: 'shpat_wrong' } })).rejects.toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      upstreamStatus: 401,
    });
  });

  it('pauses before the cost bucket runs dry while listing', async () => {
    const small = await ShopifyStub.start({ bucket: { maximumAvailable: 200, restoreRate: 20 } });
    try {
      small.seedOrders(50);
      const pauses: { ms: number; reason: string }[] = [];
      // 10 orders a page cost 2 + 10 × 4 = 42 points: after four pages the bucket holds too little for a fifth.
      const out = (await runTool({
        config: { integrations: { shopify: builtinIntegrationConfig('shopify', small.url) } },
        tool: 'shopify.listOrders',
        input: { pageSize: 10 },
        pauses,
      })) as { orders: unknown[] };
      // Had a page been throttled, the tool would have failed RATE_LIMITED.
      expect(out.orders).toHaveLength(50);
      expect(small.count()).toBe(5);
      expect(pauses.length).toBeGreaterThan(0);
      const [fourth, fifth] = small.requests.slice(3);
      expect(fifth!.at - fourth!.at).toBeGreaterThanOrEqual(pauses[0]!.ms);
    } finally {
      await small.close();
    }
  });
});
