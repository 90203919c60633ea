import { createServer, type Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import axios from 'axios';
import { parseConfig } from '@broker/shared/config/load';
import { VaultError } from '@broker/tools/secrets/vault';
import {
  asToolError,
  createHttpClient,
  IntegrationClient,
  MAX_ANSWER_BYTES,
  ToolError,
  type CallContext,
  type CredentialsOptions,
  type CredentialsProvider,
  type UpstreamAnswerHeaders,
  type UpstreamCallReport,
} from '@broker/tools';
import { testLogger } from '../helpers/broker';
import { freePort } from '../helpers/free-port';
import { waitFor } from '../helpers/wait-for';

/**
 * The HTTP layer of every integration call, end to end on the wire: a real
 * IntegrationClient (axios + axios-retry, the shared keep-alive agents) against
 * real node:http servers on port 0. What the upstream receives, what the tool
 * gets back, how each failure is classified (code, stage, writeWithoutKey),
 * and which failures are resent inside the try (and admitted again) and which
 * are not.
 */

interface Seen {
  method: string;
  /** Path and query exactly as written on the wire. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Which TCP connection carried it (1-based, in the order the server accepted them). */
  connection: number;
  /** Its place among the requests of that connection (1 for the first). */
  onConnection: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/** A real upstream on port 0 that records every request it reads, and which connection carried it. */
class Upstream {
  readonly seen: Seen[] = [];
  handler: Handler;
  readonly server: Server;
  base = '';
  private readonly connections = new WeakMap<Socket, { id: number; requests: number }>();
  private accepted = 0;

  private constructor(handler: Handler) {
    this.handler = handler;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const conn = this.connections.get(req.socket)!;
        conn.requests += 1;
        const seen: Seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          connection: conn.id,
          onConnection: conn.requests,
        };
        this.seen.push(seen);
        this.handler(req, res, seen);
      });
    });
    this.server.on('connection', (socket: Socket) => this.connections.set(socket, { id: ++this.accepted, requests: 0 }));
  }

  static async start(handler: Handler = (_req, res) => json(res, 200, { ok: true })): Promise<Upstream> {
    const upstream = new Upstream(handler);
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.base = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
    return upstream;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const TOKEN = 'sk_live_0123456789abcdef';

/** A credentials provider that hands out `values` in turn (the last one from then on) and records how it was asked. */
function credentials(...values: string[]): { provider: CredentialsProvider; asked: CredentialsOptions[] } {
  const asked: CredentialsOptions[] = [];
  return {
    asked,
    provider: {
      async authHeaders(_connection, options) {
        asked.push(options);
        // Capitalised on purpose: the layer reports the rejected headers lower-cased.
        return { Authorization: values[Math.min(asked.length, values.length) - 1]! };
      },
    },
  };
}

function client(base: string, integration: Record<string, unknown> = {}, provider: CredentialsProvider = credentials(`Bearer ${TOKEN}`).provider) {
  const config = parseConfig({ integrations: { demo: { baseUrl: base, ...integration } } }).integrations.demo!;
  return new IntegrationClient('demo', config, provider, testLogger(), undefined, undefined);
}

interface Tally {
  admits: number;
  answered: number;
  reports: UpstreamCallReport[];
  answers: UpstreamAnswerHeaders[];
}

/** One try's call context, with a call gate that counts admissions and their answers. */
function callContext(overrides: Partial<CallContext> = {}): { call: CallContext; tally: Tally } {
  const tally: Tally = { admits: 0, answered: 0, reports: [], answers: [] };
  const call: CallContext = {
    tool: 'demo.thing',
    jobId: 'job-1',
    attempt: 1,
    connection: 'default',
    write: false,
    requestId: 'req-1',
    admit: async () => {
      tally.admits += 1;
      return { answered: () => void (tally.answered += 1) };
    },
    onCall: (report) => tally.reports.push(report),
    onResponse: (answer) => tally.answers.push(answer),
    ...overrides,
  };
  return { call, tally };
}

/** The ToolError a call fails with, within `ms` (a hang fails the test rather than the suite's timeout). */
async function failure(promise: Promise<unknown>, ms = 5_000): Promise<ToolError> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      () => ({ settled: 'resolved' as const }),
      (error: unknown) => ({ settled: 'rejected' as const, error }),
    ),
    new Promise<{ settled: 'pending' }>((resolve) => (timer = setTimeout(() => resolve({ settled: 'pending' }), ms))),
  ]);
  clearTimeout(timer);
  expect(outcome.settled).toBe('rejected');
  const error = (outcome as { error: unknown }).error;
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

let upstream: Upstream;
afterEach(async () => {
  await upstream?.close();
});

describe('query strings and URLs the upstream sees', () => {
  // The format axios wrote and upstreams have always seen: arrays as key[]=a, nested objects as
  // key[sub]=v (brackets percent-encoded), dates in ISO form, `: $ ,` readable, spaces as `+`,
  // undefined and null skipped.
  const cases: [Record<string, unknown>, string][] = [
    [{ limit: 10, cursor: 'abc' }, '/v1/orders?limit=10&cursor=abc'],
    [{ q: 'name:"Ada Lovelace" & co', empty: '', skip: undefined, none: null }, '/v1/orders?q=name:%22Ada+Lovelace%22+%26+co&empty='],
    [{ ids: [1, 2, 3], tags: ['a b', 'c,d'] }, '/v1/orders?ids%5B%5D=1&ids%5B%5D=2&ids%5B%5D=3&tags%5B%5D=a+b&tags%5B%5D=c,d'],
    [{ filter: { status: 'open', owner: { login: 'octo' } } }, '/v1/orders?filter%5Bstatus%5D=open&filter%5Bowner%5D%5Blogin%5D=octo'],
    [{ since: new Date('2026-01-02T03:04:05.000Z'), flag: true, price: 1.5 }, '/v1/orders?since=2026-01-02T03:04:05.000Z&flag=true&price=1.5'],
    [
      { 'weird key[]': '$100 = 50% + €', unicode: 'café ☕', slash: 'a/b?c#d' },
      '/v1/orders?weird+key%5B%5D=$100+%3D+50%25+%2B+%E2%82%AC&unicode=caf%C3%A9+%E2%98%95&slash=a%2Fb%3Fc%23d',
    ],
  ];

  it.each(cases)('sends %j as %s, the URL axios.getUri writes', async (query, expected) => {
    upstream = await Upstream.start();
    const baseUrl = `${upstream.base}/v1/`;
    await client(baseUrl).forCall(callContext().call).request({ method: 'GET', path: '/orders', query });
    const axiosUrl = new URL(axios.getUri({ baseURL: baseUrl, url: '/orders', params: query }));
    expect(upstream.seen.map((s) => s.url)).toEqual([expected]);
    expect(expected).toBe(`${axiosUrl.pathname}${axiosUrl.search}`);
  });

  it('joins the base URL and the path with exactly one slash, and keeps a query the path already has', async () => {
    upstream = await Upstream.start();
    const { call } = callContext();
    await client(`${upstream.base}/api`).forCall(call).request({ method: 'GET', path: 'items' });
    await client(`${upstream.base}/api/`).forCall(call).request({ method: 'GET', path: '/items', query: {} });
    await client(`${upstream.base}/api`)
      .forCall(call)
      .request({ method: 'GET', path: '/items?a=1', query: { b: 2 } });
    await client(upstream.base).forCall(call).request({ method: 'GET', path: '/items' });
    expect(upstream.seen.map((s) => s.url)).toEqual(['/api/items', '/api/items', '/api/items?a=1&b=2', '/items']);
  });
});

describe('what is sent and what comes back', () => {
  const integration = { apiVersion: { header: 'Stripe-Version', value: '2024-06-20' }, idempotencyHeader: 'X-Idempotency-Key' };

  it('sends the method, the auth, accept, user-agent, request id, API version and the tool’s own headers', async () => {
    upstream = await Upstream.start();
    const { call } = callContext({ requestId: 'req-42' });
    await client(upstream.base, integration)
      .forCall(call)
      .request({ method: 'DELETE', path: '/things/1', headers: { 'x-custom': 'yes' } });
    const [seen] = upstream.seen;
    expect(seen!.method).toBe('DELETE');
    expect(seen!.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      accept: 'application/json',
      'user-agent': 'agent-request-broker',
      'x-request-id': 'req-42',
      'stripe-version': '2024-06-20',
      'x-custom': 'yes',
    });
    expect(seen!.headers).not.toHaveProperty('x-idempotency-key');
  });

  it.each([
    ['POST with a key', 'POST', 'idem-1', 'idem-1'],
    ['PATCH with a key', 'PATCH', 'idem-2', 'idem-2'],
    ['GET with a key', 'GET', 'idem-3', undefined],
    ['POST without a key', 'POST', undefined, undefined],
  ] as const)('sends the idempotency key on writes only: %s', async (_name, method, key, expected) => {
    upstream = await Upstream.start();
    const { call } = callContext({ write: method !== 'GET', ...(key ? { idempotencyKey: key } : {}) });
    await client(upstream.base, integration).forCall(call).request({ method, path: '/orders' });
    expect(upstream.seen[0]!.headers['x-idempotency-key']).toBe(expected);
  });

  it('sends a JSON body as JSON, with its byte length', async () => {
    upstream = await Upstream.start();
    const body = { sku: 'café', qty: 2, tags: ['a'], note: null };
    await client(upstream.base).forCall(callContext().call).request({ method: 'POST', path: '/orders', json: body });
    const [seen] = upstream.seen;
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(seen!.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(body))));
    expect(JSON.parse(seen!.body)).toEqual(body);
  });

  it('sends a form body with Stripe-style nesting, skipping undefined and null', async () => {
    upstream = await Upstream.start();
    const form = {
      amount: 1500,
      currency: 'eur',
      metadata: { order: 'o 1', gone: undefined },
      items: [{ price: 'p_1', quantity: 2 }],
      none: null,
      capture: false,
    };
    await client(upstream.base).forCall(callContext().call).request({ method: 'POST', path: '/v1/payment_intents', form });
    const [seen] = upstream.seen;
    expect(seen!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(seen!.body).toBe('amount=1500&currency=eur&metadata%5Border%5D=o+1&items%5B0%5D%5Bprice%5D=p_1&items%5B0%5D%5Bquantity%5D=2&capture=false');
  });

  it('returns the status, lower-cased headers (repeated ones joined) and the parsed JSON', async () => {
    upstream = await Upstream.start((_req, res) => {
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      json(res, 201, { id: 'o_1', name: 'é' }, { 'X-Upstream-Thing': 'yes', 'Request-Id': 'up-1' });
    });
    const { call, tally } = callContext();
    const res = await client(upstream.base).forCall(call).request({ method: 'POST', path: '/orders', json: {} });
    expect(res).toEqual({
      status: 201,
      headers: expect.objectContaining({ 'x-upstream-thing': 'yes', 'request-id': 'up-1', 'set-cookie': 'a=1, b=2', 'content-type': 'application/json' }),
      data: { id: 'o_1', name: 'é' },
    });
    expect(tally.answers).toEqual([{ status: 201, headers: res.headers }]);
  });

  it('returns a body that is not JSON as text, and an empty one as null', async () => {
    upstream = await Upstream.start((req, res) => {
      if (req.url === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('plain words');
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    const http = client(upstream.base).forCall(callContext().call);
    expect((await http.request({ method: 'GET', path: '/text' })).data).toBe('plain words');
    expect(await http.request({ method: 'DELETE', path: '/nothing' })).toMatchObject({ status: 204, data: null });
  });

  it('fails a 2xx whose JSON is malformed as UNKNOWN, keeping the status', async () => {
    upstream = await Upstream.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"cut":');
    });
    const err = await failure(client(upstream.base).forCall(callContext().call).request({ method: 'GET', path: '/x' }));
    expect(err).toMatchObject({ code: 'UNKNOWN', upstreamStatus: 200 });
  });

  it('classifies an error answer and does not resend it inside the try', async () => {
    upstream = await Upstream.start((_req, res) => json(res, 503, { error: 'down' }, { 'Retry-After': '7', 'Request-Id': 'up-9' }));
    const { call, tally } = callContext();
    const err = await failure(client(upstream.base).forCall(call).request({ method: 'GET', path: '/x' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true, upstreamStatus: 503, retryAfterMs: 7_000, requestId: 'up-9', stage: undefined });
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
    expect(tally.reports.map((r) => r.status)).toEqual([503]);
  });
});

describe('compression and the size cap', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('asks for compression and decodes a %s answer', async (encoding, compress) => {
    upstream = await Upstream.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
      res.end(compress(Buffer.from('{"compressed":"yes"}')));
    });
    const res = await client(upstream.base).forCall(callContext().call).request({ method: 'GET', path: '/z' });
    expect(res.data).toEqual({ compressed: 'yes' });
    expect(upstream.seen[0]!.headers['accept-encoding']).toContain(encoding);
  });

  it('fails an answer over 10 MiB once decompressed as UNKNOWN (a gzip bomb), and accepts one of exactly 10 MiB', async () => {
    const bomb = gzipSync(Buffer.alloc(11 * 1024 * 1024));
    const exact = gzipSync(Buffer.alloc(MAX_ANSWER_BYTES, 'a'));
    expect(bomb.length).toBeLessThan(MAX_ANSWER_BYTES / 100); // small on the wire: only decompression makes it large
    upstream = await Upstream.start((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(req.url === '/bomb' ? bomb : exact);
    });
    const { call, tally } = callContext();
    const http = client(upstream.base).forCall(call);
    const err = await failure(http.request({ method: 'GET', path: '/bomb' }));
    expect(err).toMatchObject({ code: 'UNKNOWN', message: 'upstream response exceeds 10 MiB' });
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
    expect((await http.request<string>({ method: 'GET', path: '/exact' })).data).toHaveLength(MAX_ANSWER_BYTES);
  });
});

describe('the deadline of each exchange', () => {
  const timeoutMs = 300;

  it.each([
    ['a read', 'GET', {}, false],
    ['a write without an idempotency key', 'POST', { write: true }, true],
    ['a write with an idempotency key', 'POST', { write: true, idempotencyKey: 'idem-1' }, false],
    ['a POST that is not a write', 'POST', {}, false],
  ] as const)('fails %s whose answer trickles past timeoutMs as TIMEOUT at stage exchange, not resent', async (_name, method, overrides, writeWithoutKey) => {
    // The answer keeps coming (an idle timer would never fire): the deadline covers the whole exchange.
    upstream = await Upstream.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const drip = setInterval(() => res.write('0,'), 20);
      res.on('close', () => clearInterval(drip));
    });
    const { call, tally } = callContext(overrides);
    const started = Date.now();
    const err = await failure(client(upstream.base, { timeoutMs }).forCall(call).request({ method, path: '/slow', json: {} }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs - 20);
    expect(err).toMatchObject({ code: 'TIMEOUT', stage: 'exchange', writeWithoutKey });
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
    expect(tally.reports).toEqual([expect.objectContaining({ integration: 'demo', status: undefined })]);
  });

  it('says the deadline ended it, not a cancellation', async () => {
    upstream = await Upstream.start(() => undefined); // never answers
    const err = await failure(client(upstream.base, { timeoutMs }).forCall(callContext().call).request({ method: 'GET', path: '/slow' }));
    expect(err.message).toBe(`upstream did not answer in time (timeout of ${timeoutMs}ms exceeded)`);
  });
});

describe("the call's signal", () => {
  it('aborting mid-exchange fails the call at once (stage exchange) and does not resend', async () => {
    upstream = await Upstream.start(() => undefined); // reads the request, never answers
    const controller = new AbortController();
    const { call, tally } = callContext({ signal: controller.signal, write: true });
    const pending = client(upstream.base).forCall(call).request({ method: 'POST', path: '/hang', json: {} });
    await waitFor(() => upstream.seen.length === 1, { timeoutMs: 5_000, what: 'the request to arrive' });
    controller.abort();
    // Well inside the integration's 10 s deadline: the abort ended it, not the timer.
    const err = await failure(pending, 2_000);
    expect(err).toMatchObject({ code: 'TIMEOUT', stage: 'exchange', writeWithoutKey: true });
    expect(err.message).not.toContain('timeout of');
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
    expect(tally.reports).toEqual([expect.objectContaining({ status: undefined })]);
  });

  it('already aborted: the call fails without anything reaching the upstream', async () => {
    upstream = await Upstream.start();
    const { call, tally } = callContext({ signal: AbortSignal.abort() });
    const err = await failure(client(upstream.base).forCall(call).request({ method: 'GET', path: '/x' }), 2_000);
    expect(err.code).toBe('TIMEOUT');
    expect(upstream.seen).toHaveLength(0);
    expect(tally.answered).toBe(tally.admits);
    expect(tally.admits).toBeLessThanOrEqual(1);
  });
});

describe('nothing listening (ECONNREFUSED)', () => {
  it.each([
    ['a read', 'GET', {}],
    // Refused proves nothing was sent: even a write without a key is resent.
    ['a write without an idempotency key', 'POST', { write: true }],
  ] as const)('resends %s once at once, admitted again, then fails UPSTREAM_ERROR at stage connect', async (_name, method, overrides) => {
    const port = await freePort();
    const { provider, asked } = credentials(`Bearer ${TOKEN}`);
    const { call, tally } = callContext(overrides);
    const err = await failure(client(`http://127.0.0.1:${port}`, {}, provider).forCall(call).request({ method, path: '/x', json: {} }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'connect', retryable: true });
    expect(err.message).toContain('ECONNREFUSED');
    expect([tally.admits, tally.answered]).toEqual([2, 2]);
    expect(tally.reports.map((r) => r.status)).toEqual([undefined, undefined]);
    expect(asked).toEqual([{ forceRefresh: false }, { forceRefresh: false }]);
  });
});

describe('a reset connection', () => {
  /** The process-wide keep-alive agent every direct http integration call goes through. */
  const sharedAgent = createHttpClient({ baseURL: 'http://127.0.0.1:1' }).defaults.httpAgent as Agent;

  /** Waits until the shared agent holds an idle socket to the upstream, so the next call reuses it. */
  async function pooledSocket(port: number): Promise<void> {
    await waitFor(() => Object.entries(sharedAgent.freeSockets).some(([name, sockets]) => name.startsWith(`127.0.0.1:${port}:`) && (sockets?.length ?? 0) > 0), {
      timeoutMs: 5_000,
      what: 'an idle keep-alive socket in the pool',
    });
  }

  /**
   * The keep-alive race made deterministic: the server keeps the connection
   * open after its first answer, then drops it on reading the second request,
   * without answering — what the client sees when the server closed the idle
   * socket just as the request was written on it (ECONNRESET, reused socket).
   */
  function dropsSecondRequestOnAConnection(): Handler {
    return (req, res, seen) => {
      if (seen.onConnection === 2) req.socket.destroy();
      else json(res, 200, { connection: seen.connection });
    };
  }

  it.each([
    ['a read', 'GET', {}],
    ['a write with an idempotency key', 'POST', { write: true, idempotencyKey: 'idem-1' }],
  ] as const)('resends %s that hit a reset on a reused keep-alive socket, at once, on a new connection', async (_name, method, overrides) => {
    upstream = await Upstream.start(dropsSecondRequestOnAConnection());
    const http = client(upstream.base);
    await http.forCall(callContext().call).request({ method: 'GET', path: '/warm' });
    await pooledSocket(upstream.port);
    const { call, tally } = callContext(overrides);
    const res = await http.forCall(call).request({ method, path: '/x', json: {} });
    expect(res).toMatchObject({ status: 200, data: { connection: 2 } });
    expect(upstream.seen.map((s) => [s.url, s.connection, s.onConnection])).toEqual([
      ['/warm', 1, 1],
      ['/x', 1, 2],
      ['/x', 2, 1],
    ]);
    expect([tally.admits, tally.answered]).toEqual([2, 2]);
    expect(tally.reports.map((r) => r.status)).toEqual([undefined, 200]);
  });

  it('does not resend a write without an idempotency key reset on a reused socket: stage exchange, writeWithoutKey', async () => {
    upstream = await Upstream.start(dropsSecondRequestOnAConnection());
    const http = client(upstream.base);
    await http.forCall(callContext().call).request({ method: 'GET', path: '/warm' });
    await pooledSocket(upstream.port);
    const { call, tally } = callContext({ write: true });
    const err = await failure(http.forCall(call).request({ method: 'POST', path: '/charge', json: { amount: 1 } }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'exchange', writeWithoutKey: true, retryable: true });
    expect(err.message).toContain('ECONNRESET');
    expect(upstream.seen.map((s) => [s.url, s.connection, s.onConnection])).toEqual([
      ['/warm', 1, 1],
      ['/charge', 1, 2],
    ]);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
  });

  it('does not resend a read reset on a fresh connection (the server may have read it)', async () => {
    upstream = await Upstream.start((req) => req.socket.destroy());
    const { call, tally } = callContext();
    const err = await failure(client(upstream.base).forCall(call).request({ method: 'GET', path: '/x' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'exchange', writeWithoutKey: false });
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
  });

  it('reports a read reset on two reused sockets in turn as never sent (stage connect), after one resend', async () => {
    upstream = await Upstream.start(dropsSecondRequestOnAConnection());
    const http = client(upstream.base);
    // Two warm calls in flight at once: two connections, both idle in the pool afterwards.
    let release!: () => void;
    const bothArrived = new Promise<void>((resolve) => (release = resolve));
    const warmHandler = upstream.handler;
    upstream.handler = (req, res, seen) => {
      if (upstream.seen.length === 2) release();
      void bothArrived.then(() => warmHandler(req, res, seen));
    };
    await Promise.all([1, 2].map(() => http.forCall(callContext().call).request({ method: 'GET', path: '/warm' })));
    upstream.handler = warmHandler;
    await waitFor(() => (sharedAgent.freeSockets[`127.0.0.1:${upstream.port}:`]?.length ?? 0) === 2, { timeoutMs: 5_000, what: 'two idle sockets' });
    const { call, tally } = callContext();
    const err = await failure(http.forCall(call).request({ method: 'GET', path: '/x' }));
    expect(upstream.seen.map((s) => [s.url, s.onConnection])).toEqual([
      ['/warm', 1],
      ['/warm', 1],
      ['/x', 2],
      ['/x', 2],
    ]);
    expect([tally.admits, tally.answered]).toEqual([2, 2]);
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'connect', retryable: true, writeWithoutKey: false });
  });

  it('fails a connection cut mid-answer at stage exchange, without resending', async () => {
    upstream = await Upstream.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setImmediate(() => res.socket?.destroy());
    });
    const { call, tally } = callContext();
    const err = await failure(client(upstream.base).forCall(call).request({ method: 'GET', path: '/cut' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'exchange', retryable: true });
    expect(upstream.seen).toHaveLength(1);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
  });

  it('does not take a cut mid-answer on a reused socket for "never sent": an answer began', async () => {
    upstream = await Upstream.start((_req, res, seen) => {
      if (seen.onConnection === 1) return json(res, 200, {});
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setImmediate(() => res.socket?.destroy());
    });
    const http = client(upstream.base);
    await http.forCall(callContext().call).request({ method: 'GET', path: '/warm' });
    await pooledSocket(upstream.port);
    const { call, tally } = callContext();
    const err = await failure(http.forCall(call).request({ method: 'GET', path: '/cut' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', stage: 'exchange', retryable: true });
    expect(upstream.seen.map((s) => [s.url, s.connection, s.onConnection])).toEqual([
      ['/warm', 1, 1],
      ['/cut', 1, 2],
    ]);
    expect([tally.admits, tally.answered]).toEqual([1, 1]);
  });
});

describe('a 401', () => {
  it.each([
    ['a read', 'GET', {}],
    // A 401 proves the request was not acted on: even a write without a key is resent.
    ['a write without an idempotency key', 'POST', { write: true }],
  ] as const)('reads the credentials again (forceRefresh, the rejected header) and resends %s once', async (_name, method, overrides) => {
    upstream = await Upstream.start((_req, res, seen) => (upstream.seen.length === 1 ? json(res, 401, { error: 'expired' }) : json(res, 200, { n: seen.body })));
    const { provider, asked } = credentials('Bearer old-token-1', 'Bearer new-token-2');
    const { call, tally } = callContext(overrides);
    const res = await client(upstream.base, {}, provider)
      .forCall(call)
      .request({ method, path: '/me', json: { a: 1 } });
    expect(res).toMatchObject({ status: 200, data: { n: '{"a":1}' } });
    expect(asked).toEqual([{ forceRefresh: false }, { forceRefresh: true, rejectedHeaders: { authorization: 'Bearer old-token-1' } }]);
    expect(upstream.seen.map((s) => [s.method, s.headers.authorization, s.body])).toEqual([
      [method, 'Bearer old-token-1', '{"a":1}'],
      [method, 'Bearer new-token-2', '{"a":1}'],
    ]);
    expect([tally.admits, tally.answered]).toEqual([2, 2]);
    expect(tally.reports.map((r) => r.status)).toEqual([401, 200]);
  });

  it('twice fails AUTHENTICATION_FAILED with upstreamStatus 401 after exactly two requests', async () => {
    upstream = await Upstream.start((_req, res) => json(res, 401, { error: 'nope' }));
    const { provider, asked } = credentials('Bearer old-token-1', 'Bearer new-token-2');
    const { call, tally } = callContext();
    const err = await failure(client(upstream.base, {}, provider).forCall(call).request({ method: 'GET', path: '/me' }));
    expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', upstreamStatus: 401, retryable: false });
    expect(upstream.seen).toHaveLength(2);
    expect(asked).toHaveLength(2);
    expect([tally.admits, tally.answered]).toEqual([2, 2]);
    expect(tally.reports.map((r) => r.status)).toEqual([401, 401]);
  });
});

describe('failures before anything is sent', () => {
  it('a credentials provider throwing a ToolError: the same error at stage prepare, nothing admitted or sent', async () => {
    upstream = await Upstream.start();
    const refusal = new ToolError('AUTHENTICATION_FAILED', { message: 'connection "default" of "demo" has no OAuth token yet' });
    const provider: CredentialsProvider = { authHeaders: () => Promise.reject(refusal) };
    const { call, tally } = callContext();
    const err = await failure(client(upstream.base, {}, provider).forCall(call).request({ method: 'GET', path: '/x' }));
    expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', stage: 'prepare', retryable: false, message: refusal.message });
    expect(upstream.seen).toHaveLength(0);
    expect([tally.admits, tally.answered, tally.reports.length]).toEqual([0, 0, 0]);
  });

  it('a secrets provider that is down (VaultError): stage prepare, nothing admitted or sent', async () => {
    upstream = await Upstream.start();
    const provider: CredentialsProvider = { authHeaders: () => Promise.reject(new VaultError('vault answered 503')) };
    const { call, tally } = callContext({ write: true });
    const thrown = await client(upstream.base, {}, provider)
      .forCall(call)
      .request({ method: 'POST', path: '/x' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    // What the worker makes of it (asToolError): the call never left, so the breaker must ignore it.
    expect(asToolError(thrown)).toMatchObject({ stage: 'prepare', writeWithoutKey: false });
    expect(upstream.seen).toHaveLength(0);
    expect([tally.admits, tally.answered, tally.reports.length]).toEqual([0, 0, 0]);
  });

  it('the call gate refusing admission: its error as is, nothing sent', async () => {
    upstream = await Upstream.start();
    const held = new ToolError('RATE_LIMITED', { message: 'held back by the rate window', retryAfterMs: 1_000, stage: 'prepare' });
    const { provider, asked } = credentials(`Bearer ${TOKEN}`);
    const { call, tally } = callContext({ admit: () => Promise.reject(held) });
    const err = await failure(client(upstream.base, {}, provider).forCall(call).request({ method: 'GET', path: '/x' }));
    expect(err).toBe(held);
    expect(asked).toHaveLength(1); // admitted last, after the credentials
    expect(upstream.seen).toHaveLength(0);
    expect(tally.reports).toHaveLength(0);
  });
});

describe('an answer that quotes the credential back', () => {
  const quoting = `Authorization: Bearer ${TOKEN}; token=${TOKEN}; encoded=${encodeURIComponent(`Bearer ${TOKEN}`)}`;

  it('has it blanked in the error message', async () => {
    upstream = await Upstream.start((_req, res) => json(res, 403, { error: quoting }));
    const err = await failure(client(upstream.base).forCall(callContext().call).request({ method: 'GET', path: '/x' }));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).toContain('Authorization: [redacted]; token=[redacted]; encoded=[redacted]');
  });

  it('has it blanked in the data of a success', async () => {
    upstream = await Upstream.start((_req, res) => json(res, 200, { echo: quoting }));
    const res = await client(upstream.base).forCall(callContext().call).request<{ echo: string }>({ method: 'GET', path: '/x' });
    expect(res.data.echo).toBe('Authorization: [redacted]; token=[redacted]; encoded=[redacted]');
  });

  // A key with the characters JSON encoders escape; its runs between them are what must not come back in any spelling.
  const SLASHED = 'sk_live_Kq3x/Vw9z+Lm4p/Tr8s';
  const runsOfKey = SLASHED.split(/[/+]/);
  const escapings: Array<[string, (s: string) => string]> = [
    ['PHP json_encode: \\/', (s) => s.replaceAll('/', '\\/')],
    ['lower-case \\u002f and \\u002b', (s) => s.replaceAll('/', '\\u002f').replaceAll('+', '\\u002b')],
    ['upper-case \\u002F and \\u002B', (s) => s.replaceAll('/', '\\u002F').replaceAll('+', '\\u002B')],
  ];

  it.each(escapings)('has it blanked when the upstream echoes the request headers JSON-escaped (%s), in the data and in an error', async (_, escape) => {
    let status = 200;
    upstream = await Upstream.start((req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`{"error":"echo","headers":{"authorization":"${escape(String(req.headers.authorization))}"}}`);
    });
    const http = client(upstream.base, {}, credentials(`Bearer ${SLASHED}`).provider).forCall(callContext().call);
    const res = await http.request<{ headers: { authorization: string } }>({ method: 'GET', path: '/x' });
    expect(res.data.headers.authorization).toBe('[redacted]');
    status = 400;
    const err = await failure(http.request({ method: 'GET', path: '/x' }));
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain('[redacted]');
    for (const text of [JSON.stringify(res.data), err.message]) for (const run of runsOfKey) expect(text).not.toContain(run);
    // The upstream did get the key, so the search above could have found it.
    expect(upstream.seen.map((s) => s.headers.authorization)).toEqual([`Bearer ${SLASHED}`, `Bearer ${SLASHED}`]);
  });
});

describe('reports', () => {
  it('tells onCall once per request and the gate once per admitted request, resends included', async () => {
    upstream = await Upstream.start((_req, res) => (upstream.seen.length === 1 ? json(res, 401, {}) : json(res, 200, {})));
    const { call, tally } = callContext();
    const http = client(upstream.base, {}, credentials('Bearer old-token-1', 'Bearer new-token-2').provider).forCall(call);
    await http.request({ method: 'GET', path: '/a' });
    await http.request({ method: 'GET', path: '/b' });
    expect(upstream.seen).toHaveLength(3);
    expect([tally.admits, tally.answered]).toEqual([3, 3]);
    expect(tally.reports).toEqual([
      { integration: 'demo', status: 401, durationMs: expect.any(Number) },
      { integration: 'demo', status: 200, durationMs: expect.any(Number) },
      { integration: 'demo', status: 200, durationMs: expect.any(Number) },
    ]);
    expect(tally.reports.every((r) => r.durationMs >= 0)).toBe(true);
    // onResponse hears the answers the tool gets, not the 401 that was resent.
    expect(tally.answers.map((a) => a.status)).toEqual([200, 200]);
  });
});
