import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '@broker/shared/config/load';
import { ToolError } from '@broker/tools';
import { runTool, verifyTool } from '../kit';
import { StubServer, type StubHandler } from '../helpers/stub-server';

/**
 * `reference` and `verify` of a declared tool (docs/configuration.md#writes-without-an-idempotency-key-reference-and-verify;
 * "No write is applied twice" in docs/api.md#guarantees): every try of an unkeyed write carries the job id, and
 * the lookup by it says found (with the output), cleanly absent, or throws.
 */

const ORDER_OUTPUT = { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string' } } };
const ORDER_INPUT = { type: 'object', required: ['sku', 'qty'], properties: { sku: { type: 'string' }, qty: { type: 'integer' }, shop: { type: 'string' } } };
const SECRETS = { SHOP_KEY: 'key-1' };

function integrations(baseUrl: string, tool: Record<string, unknown>) {
  return {
    integrations: {
      shop: {
        baseUrl,
        auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'SHOP_KEY' },
        retry: { attempts: 1 },
        tools: [{ name: 'shop.createOrder', method: 'POST', path: '/orders', input: ORDER_INPUT, output: ORDER_OUTPUT, ...tool }],
      },
    },
  };
}

const LOOKUP = { path: '/orders', query: { clientRef: '{reference}' }, found: '/data/0' };

describe('reference: every try carries the job id', () => {
  let stub: StubServer;
  beforeAll(async () => {
    stub = await StubServer.start(() => ({ status: 201, body: { id: 'ord_1', status: 'paid' } }));
  });
  afterAll(() => stub.close());
  beforeEach(() => stub.requests.splice(0));

  const run = (tool: Record<string, unknown>, input: Record<string, unknown> = { sku: 'a', qty: 2 }) =>
    runTool({ config: integrations(stub.url, tool), tool: 'shop.createOrder', input, jobId: 'job_42', secrets: SECRETS });

  it('in a JSON body field, beside the input', async () => {
    await expect(run({ reference: { in: 'body', name: 'clientRef' } })).resolves.toEqual({ id: 'ord_1', status: 'paid' });
    expect(JSON.parse(stub.requests[0]!.body)).toEqual({ sku: 'a', qty: 2, clientRef: 'job_42' });
  });

  it('in a query parameter, the input staying in the body', async () => {
    await run({ reference: { in: 'query', name: 'client_ref' } });
    const [request] = stub.requests;
    expect(request!.query.get('client_ref')).toBe('job_42');
    expect(JSON.parse(request!.body)).toEqual({ sku: 'a', qty: 2 });
  });

  it('in a request header', async () => {
    await run({ reference: { in: 'header', name: 'X-Client-Reference' } });
    expect(stub.requests[0]!.headers['x-client-reference']).toBe('job_42');
    expect(JSON.parse(stub.requests[0]!.body)).toEqual({ sku: 'a', qty: 2 });
  });

  it('in the query of a DELETE, beside the input sent there', async () => {
    stub.setHandler(() => ({ status: 200, body: { id: 'ord_1', status: 'cancelled' } }));
    const tool = {
      name: 'shop.cancelOrder',
      method: 'DELETE',
      path: '/orders/{id}',
      input: { type: 'object', properties: { id: { type: 'string' }, reason: { type: 'string' } } },
      reference: { in: 'query', name: 'ref' },
    };
    const config = { integrations: { shop: { baseUrl: stub.url, tools: [tool] } } };
    await runTool({ config, tool: 'shop.cancelOrder', input: { id: 'ord_1', reason: 'dup' }, jobId: 'job_7' });
    const [request] = stub.requests;
    expect(request!.method).toBe('DELETE');
    expect(request!.path).toBe('/orders/ord_1');
    expect(Object.fromEntries(request!.query)).toEqual({ reason: 'dup', ref: 'job_7' });
  });
});

describe('verify: what an earlier try did', () => {
  let stub: StubServer;
  let answer: StubHandler;
  beforeAll(async () => {
    stub = await StubServer.start((req, i) => answer(req, i));
  });
  afterAll(() => stub.close());
  beforeEach(() => stub.requests.splice(0));

  const verify = (tool: Record<string, unknown>, input: Record<string, unknown> = { sku: 'a', qty: 2 }) =>
    verifyTool({ config: integrations(stub.url, { reference: { in: 'body', name: 'clientRef' }, ...tool }), tool: 'shop.createOrder', input, jobId: 'job_42', secrets: SECRETS });

  it('found: the pointed value is the output, asked with the integration credentials and the job id', async () => {
    answer = () => ({ body: { data: [{ id: 'ord_1', status: 'paid' }] } });
    await expect(verify({ verify: LOOKUP })).resolves.toEqual({ found: true, output: { id: 'ord_1', status: 'paid' } });
    const [request] = stub.requests;
    expect(request!.method).toBe('GET');
    expect(request!.path).toBe('/orders');
    expect(Object.fromEntries(request!.query)).toEqual({ clientRef: 'job_42' });
    expect(request!.headers.authorization).toBe('Bearer key-1');
    expect(request!.body).toBe('');
  });

  it('found: the value is checked against the output schema', async () => {
    answer = () => ({ body: { data: [{ id: 'ord_1' }] } });
    await expect(verify({ verify: LOOKUP })).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });

  it('fills {reference} and the input params in the path and the query values', async () => {
    answer = () => ({ body: { id: 'ord_1', status: 'paid' } });
    const lookup = { path: '/shops/{shop}/orders/by-ref/{reference}', query: { ref: 'broker-{reference}', shop: '{shop}', limit: 1 }, found: '' };
    await expect(verify({ verify: lookup }, { sku: 'a', qty: 2, shop: 'north/east' })).resolves.toEqual({ found: true, output: { id: 'ord_1', status: 'paid' } });
    const [request] = stub.requests;
    expect(request!.path).toBe('/shops/north%2Feast/orders/by-ref/job_42');
    expect(Object.fromEntries(request!.query)).toEqual({ ref: 'broker-job_42', shop: 'north/east', limit: '1' });
  });

  it('a missing input param is thrown, not looked up as "undefined"', async () => {
    answer = () => ({ body: {} });
    await expect(verify({ verify: { ...LOOKUP, path: '/shops/{shop}/orders' } })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(stub.requests).toHaveLength(0);
  });

  it('reads RFC 6901 pointers: escapes, indexes, the whole answer', async () => {
    const order = { id: 'ord_1', status: 'paid' };
    answer = () => ({ body: { 'a/b': { '~x': [null, order] } } });
    await expect(verify({ verify: { ...LOOKUP, found: '/a~1b/~0x/1' } })).resolves.toEqual({ found: true, output: order });
    await expect(verify({ verify: { ...LOOKUP, found: '/a~1b/~0x/01' } })).resolves.toEqual({ found: false });
    await expect(verify({ verify: { ...LOOKUP, found: '/a~1b/~0x/-' } })).resolves.toEqual({ found: false });
    answer = () => ({ body: order });
    await expect(verify({ verify: { ...LOOKUP, found: '' } })).resolves.toEqual({ found: true, output: order });
    await expect(verify({ verify: { ...LOOKUP, found: '/constructor' } })).resolves.toEqual({ found: false });
  });

  it.each([
    ['a 404', { status: 404, body: { error: 'no such order' } }],
    ['an empty list', { body: { data: [] } }],
    ['nothing at the pointer', { body: {} }],
    ['a null at the pointer', { body: { data: null } }],
  ])('cleanly absent: %s', async (_, reply) => {
    answer = () => reply;
    await expect(verify({ verify: LOOKUP })).resolves.toEqual({ found: false });
  });

  it.each([
    ['a 500', { status: 500, body: {} }, 'UPSTREAM_ERROR'],
    ['a 401', { status: 401, body: {} }, 'AUTHENTICATION_FAILED'],
    ['a 400', { status: 400, body: {} }, 'VALIDATION_ERROR'],
  ])('cannot tell, so it throws: %s', async (_, reply, code) => {
    answer = () => reply;
    const error = await verify({ verify: LOOKUP }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({ code, upstreamStatus: reply.status });
  });

  it.each([
    ['an empty 204', { status: 204 }],
    ['an HTML page answered 200 (a proxy, a maintenance page)', { status: 200, raw: '<html><body>Back soon</body></html>', headers: { 'content-type': 'text/html' } }],
  ])('cannot tell, so it throws: %s', async (_, reply) => {
    answer = () => reply;
    await expect(verify({ verify: LOOKUP })).rejects.toMatchObject({ code: 'UNKNOWN', message: expect.stringMatching(/not a JSON object or array/) });
  });

  it('cannot tell, so it throws: a timeout', async () => {
    answer = () => ({ hang: true });
    const config = integrations(stub.url, { reference: { in: 'body', name: 'clientRef' }, verify: LOOKUP });
    config.integrations.shop = { ...config.integrations.shop, timeoutMs: 200 } as typeof config.integrations.shop;
    await expect(verifyTool({ config, tool: 'shop.createOrder', input: { sku: 'a', qty: 2 }, jobId: 'job_42', secrets: SECRETS })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('a tool without verify has none', async () => {
    await expect(verify({})).rejects.toThrow(/has no verify/);
  });
});

describe('reference and verify in the config file', () => {
  const problems = (tool: Record<string, unknown>): string[] => {
    try {
      parseConfig(integrations('http://127.0.0.1:9', tool));
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };
  const at = 'integrations.shop.tools.0';

  it('accepts them on an unkeyed write, verify.method defaulting to GET', () => {
    const config = parseConfig(integrations('http://127.0.0.1:9', { reference: { in: 'body', name: 'clientRef' }, verify: LOOKUP }));
    const tool = config.integrations.shop!.tools[0]!;
    expect(tool.reference).toEqual({ in: 'body', name: 'clientRef' });
    expect(tool.verify).toEqual({ method: 'GET', ...LOOKUP });
  });

  it('verify needs reference', () => {
    expect(problems({ verify: LOOKUP })).toEqual([`${at}.verify: verify needs reference: the lookup finds an earlier try by the job id that reference makes every try carry`]);
  });

  it('refuses them on a GET tool and on an idempotent tool, saying why', () => {
    const onGet = problems({ method: 'GET', reference: { in: 'query', name: 'ref' }, verify: LOOKUP });
    expect(onGet).toEqual([
      expect.stringMatching(new RegExp(`^${at}\\.reference: a GET tool changes nothing upstream`)),
      expect.stringMatching(new RegExp(`^${at}\\.verify: a GET tool`)),
    ]);
    expect(problems({ idempotent: true, reference: { in: 'body', name: 'clientRef' } })).toEqual([
      expect.stringMatching(new RegExp(`^${at}\\.reference: this tool is idempotent: every try resends the same idempotency key`)),
    ]);
  });

  it('refuses reference.in "body" on a DELETE tool, which sends no body', () => {
    expect(problems({ method: 'DELETE', path: '/orders/{sku}', reference: { in: 'body', name: 'ref' } })).toEqual([
      `${at}.reference.in: a DELETE tool sends its input as the query string, with no body: use "query" or "header"`,
    ]);
  });

  it('refuses a reference that would overwrite an input field', () => {
    expect(problems({ reference: { in: 'body', name: 'shop' } })).toEqual([expect.stringMatching(new RegExp(`^${at}\\.reference\\.name: the input schema declares "shop" too`))]);
    // A header or a query parameter of a POST cannot collide with the body.
    expect(problems({ reference: { in: 'header', name: 'shop' } })).toEqual([]);
    expect(problems({ reference: { in: 'query', name: 'shop' } })).toEqual([]);
  });

  it('checks the shapes: pointer, method, header name, placeholders', () => {
    const reference = { in: 'body', name: 'clientRef' };
    expect(problems({ reference, verify: { ...LOOKUP, found: 'data/0' } })).toEqual([
      expect.stringMatching(new RegExp(`^${at}\\.verify\\.found: must be a JSON pointer \\(RFC 6901\\)`)),
    ]);
    expect(problems({ reference, verify: { ...LOOKUP, found: '/data/~2' } })).toEqual([expect.stringMatching(new RegExp(`^${at}\\.verify\\.found: must be a JSON pointer`))]);
    expect(problems({ reference, verify: { ...LOOKUP, method: 'POST' } })).toEqual([`${at}.verify.method: must be "GET": the lookup must not change anything upstream`]);
    expect(problems({ reference: { in: 'header', name: 'X Ref' } })).toEqual([expect.stringMatching(new RegExp(`^${at}\\.reference\\.name: must be an HTTP header name`))]);
    expect(problems({ reference: { in: 'cookie', name: 'x' } })).toEqual([expect.stringMatching(new RegExp(`^${at}\\.reference\\.in:`))]);
    expect(problems({ reference, verify: { path: '/orders/{orderId}', query: { shop: '{shop}', q: '{nope}' }, found: '' } })).toEqual([
      `${at}.verify.path: {orderId} is neither {reference} nor a property of the input schema`,
      `${at}.verify.query.q: {nope} is neither {reference} nor a property of the input schema`,
    ]);
  });

  it('refuses verify on an async tool: a found operation may still be running', () => {
    const async = { referencePath: '$.id', poll: { path: '/orders/{reference}', doneWhen: { path: '$.status', equals: 'done' } } };
    expect(problems({ async, reference: { in: 'body', name: 'clientRef' }, verify: LOOKUP })).toEqual([
      expect.stringMatching(new RegExp(`^${at}\\.verify: verify cannot be combined with async`)),
    ]);
    expect(problems({ async, reference: { in: 'body', name: 'clientRef' } })).toEqual([]);
  });

  it('accepts the docs/configuration.md example', () => {
    const doc = readFileSync(join(__dirname, '../../docs/configuration.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Writes without an idempotency key'));
    const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]!) as Record<string, unknown>;
    const config = parseConfig({ integrations: { acme: { baseUrl: 'http://127.0.0.1:9', tools: [example] } } });
    expect(config.integrations.acme!.tools[0]).toMatchObject({ reference: { in: 'body', name: 'clientRef' }, verify: { found: '/data/0' } });
  });
});
