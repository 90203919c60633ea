import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClientSchema, buildSchema, introspectionFromSchema, printSchema, type IntrospectionQuery } from 'graphql';
import { graphqlTools, ToolError, type RunnableTool } from '@broker/tools';
import { parseConfig } from '@broker/shared/config/load';
import { SHOPIFY_ADMIN_SDL, ShopifyStub, runTool, builtinIntegrationConfig } from '../kit';

/**
 * The generator, demonstrated on a committed introspection of (a subset of)
 * Shopify's Admin schema: tools come out with JSON Schemas from the GraphQL
 * input types, and run against the Shopify stub.
 */
const FIXTURE = join(__dirname, '../fixtures/graphql/shopify-admin.introspection.json');

if (process.env.UPDATE_FIXTURES === '1') {
  const introspection = introspectionFromSchema(buildSchema(SHOPIFY_ADMIN_SDL), { descriptions: true });
  writeFileSync(FIXTURE, `${JSON.stringify({ data: introspection }, null, 1)}\n`);
}
const introspection = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { data: IntrospectionQuery };

const OPERATIONS = [
  { name: 'shopify.getProduct', field: 'product', selection: '{ id title status vendor tags variants(first: 10) { nodes { id sku price } } }' },
  { name: 'shopify.getCustomer', field: 'customer' },
  { name: 'shopify.createCustomer', field: 'customerCreate', selection: '{ customer { id email displayName } userErrors { field message } }' },
  { name: 'shopify.addTags', field: 'tagsAdd' },
];

function generate(): RunnableTool[] {
  return graphqlTools({
    integration: 'shopify',
    introspection,
    path: (v) => `/admin/api/${v}/graphql.json`,
    apiVersion: '2026-10',
    operations: OPERATIONS,
  }).map((make) => make(null));
}

let stub: ShopifyStub;
beforeAll(async () => {
  stub = await ShopifyStub.start();
  stub.seedOrders(2);
  stub.products.push({
    id: 'gid://shopify/Product/1',
    title: 'Kit mug',
    handle: 'kit-mug',
    descriptionHtml: '<p>Mug</p>',
    status: 'ACTIVE',
    vendor: 'Kit',
    tags: ['mugs'],
    onlineStoreUrl: null,
    createdAt: '2026-01-01T00:00:00Z',
    variants: [{ id: 'gid://shopify/ProductVariant/11', title: 'Default', sku: 'MUG-1', price: '12.50', inventoryQuantity: 3 }],
  });
});
afterAll(() => stub.close());

/** The generated tools, served as built-ins of the configured `shopify` integration. */
function run(tool: string, input: unknown) {
  const builtins = { shopify: graphqlTools({ integration: 'shopify', introspection, path: (v) => `/admin/api/${v}/graphql.json`, apiVersion: '2026-10', operations: OPERATIONS }) };
  return runTool({ config: parseConfig({ integrations: { shopify: builtinIntegrationConfig('shopify', stub.url) } }), tool, input, builtins });
}

describe('introspection fixture', () => {
  it('is the stub schema introspected (regenerate with UPDATE_FIXTURES=1)', () => {
    expect(printSchema(buildClientSchema(introspection.data))).toBe(printSchema(buildSchema(SHOPIFY_ADMIN_SDL)));
  });
});

describe('tools generated from an introspection result', () => {
  it('turns arguments into a JSON Schema input: required, nested input objects, enums, lists', () => {
    const tools = generate();
    const create = tools.find((t) => t.name === 'shopify.createCustomer')!;
    expect(create).toMatchObject({ integration: 'shopify', write: true, idempotent: false, apiVersion: '2026-10', description: 'Create a new customer.' });
    const schema = create.inputSchema as { required: string[]; properties: { input: Record<string, unknown> } };
    expect(schema.required).toEqual(['input']);
    const input = JSON.stringify(schema);
    expect(input).toContain('"marketingState"');
    expect(input).toContain('"enum":["NOT_SUBSCRIBED","PENDING","SUBSCRIBED","UNSUBSCRIBED"]');
    expect(input).toContain('"additionalProperties":false');
    const tags = tools.find((t) => t.name === 'shopify.addTags')!.inputSchema as { properties: { tags: unknown }; required: string[] };
    expect(tags.required).toEqual(['id', 'tags']);
    expect(tags.properties.tags).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it('validates input against the GraphQL types before anything is sent', () => {
    const create = generate().find((t) => t.name === 'shopify.createCustomer')!;
    expect(create.validateInput({ input: { email: 'a@b.co', emailMarketingConsent: { marketingState: 'SUBSCRIBED' } } }).ok).toBe(true);
    const bad = create.validateInput({ input: { emial: 'a@b.co', emailMarketingConsent: { marketingState: 'MAYBE' } } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors.map((e) => e.pointer).sort()).toEqual(['/input', '/input/emailMarketingConsent/marketingState']);
  });

  it('derives the output schema from the selection set (a default one when none is given)', () => {
    const tools = generate();
    const product = tools.find((t) => t.name === 'shopify.getProduct')!.outputSchema as { properties: Record<string, unknown> };
    expect(Object.keys(product.properties)).toEqual(['id', 'title', 'status', 'vendor', 'tags', 'variants']);
    const customer = tools.find((t) => t.name === 'shopify.getCustomer')!.outputSchema as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(customer.properties)).toEqual(['id', 'displayName', 'firstName', 'lastName', 'email', 'phone', 'tags', 'createdAt']);
    expect(customer.properties.email).toEqual({ type: ['string', 'null'] });
  });

  it('fails at generation, not at call time, on a selection the schema does not have', () => {
    expect(() =>
      graphqlTools({ integration: 'shopify', introspection, path: () => '/graphql', operations: [{ name: 'shopify.bad', field: 'product', selection: '{ id price }' }] }),
    ).toThrow(/Cannot query field "price" on type "Product"/);
    expect(() => graphqlTools({ integration: 'shopify', introspection, path: () => '/graphql', operations: [{ name: 'shopify.none', field: 'nope' }] })).toThrow(
      /no query or mutation field "nope"/,
    );
  });

  it('runs a generated query against the stub and returns the selected fields', async () => {
    const out = await run('shopify.getProduct', { id: 'gid://shopify/Product/1' });
    expect(out).toEqual({
      id: 'gid://shopify/Product/1',
      title: 'Kit mug',
      status: 'ACTIVE',
      vendor: 'Kit',
      tags: ['mugs'],
      variants: { nodes: [{ id: 'gid://shopify/ProductVariant/11', sku: 'MUG-1', price: '12.50' }] },
    });
    expect(stub.versions.at(-1)).toBe('2026-10');
  });

  it('answers NOT_FOUND when a lookup finds nothing', async () => {
    await expect(run('shopify.getProduct', { id: 'gid://shopify/Product/404' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('runs a generated mutation, and maps userErrors to VALIDATION_ERROR', async () => {
    const created = (await run('shopify.createCustomer', { input: { email: 'new@example.com', firstName: 'New' } })) as { customer: { email: string } };
    expect(created.customer.email).toBe('new@example.com');
    expect(stub.customers).toHaveLength(1);
    const err = await run('shopify.createCustomer', { input: { email: 'not-an-email' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ code: 'VALIDATION_ERROR', retryable: false, message: expect.stringContaining('email: Email is invalid') });
  });
});
