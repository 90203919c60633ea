import { createServer, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import axios from 'axios';
import { callUrl, encodeQuery, sendHttp, TransportError, type TransportRequest } from '@broker/tools';
import { freePort } from '../helpers/free-port';

/**
 * The upstream transport of every integration call: Node's http client with a
 * deadline for the whole exchange, a size cap, decompression, and axios'
 * URL and query format (upstreams see the URLs they saw before).
 */
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
const agent = new Agent({ keepAlive: true });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  agent.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(path: string, overrides: Partial<TransportRequest> = {}) {
  return sendHttp({ method: 'GET', url: new URL(`${base}${path}`), headers: {}, timeoutMs: 2000, maxBytes: 1024, agent, ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  return err as TransportError;
}

describe('query strings and URLs', () => {
  const cases: Record<string, unknown>[] = [
    { limit: 10, cursor: 'abc' },
    { q: 'name:"Ada Lovelace" & co', empty: '', skip: undefined, none: null },
    { ids: [1, 2, 3], tags: ['a b', 'c,d'] },
    { filter: { status: 'open', owner: { login: 'octo' } } },
    { since: new Date('2026-01-02T03:04:05.000Z'), flag: true, price: 1.5 },
    { 'weird key[]': '$100 = 50% + €', unicode: 'café ☕', slash: 'a/b?c#d' },
  ];
  it.each(cases)('writes %j as axios did', (query) => {
    expect(callUrl('https://api.example.com/v1/', '/orders', query).toString()).toBe(
      new URL(axios.getUri({ baseURL: 'https://api.example.com/v1/', url: '/orders', params: query })).toString(),
    );
  });

  it('joins a base URL and a path with exactly one slash, and keeps a query the path already has', () => {
    expect(callUrl('https://x.test/api', 'items', undefined).toString()).toBe('https://x.test/api/items');
    expect(callUrl('https://x.test/api/', '/items', {}).toString()).toBe('https://x.test/api/items');
    expect(callUrl('https://x.test/api', '/items?a=1', { b: 2 }).toString()).toBe('https://x.test/api/items?a=1&b=2');
    expect(encodeQuery(undefined)).toBe('');
  });
});

describe('sendHttp', () => {
  it('sends method, headers and body with its length, and returns status, lower-cased headers and text', async () => {
    handler = (req, res, body) => {
      res.setHeader('X-Echo', `${req.method} ${req.headers['content-length']} ${req.headers['x-request-id']} ${body}`);
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    };
    const res = await call('/things', { method: 'POST', headers: { 'x-request-id': 'r-1', 'content-type': 'application/json' }, body: '{"n":"é"}' });
    expect(res).toEqual({
      status: 201,
      headers: expect.objectContaining({ 'x-echo': 'POST 10 r-1 {"n":"é"}', 'set-cookie': 'a=1, b=2', 'content-type': 'application/json' }),
      text: '{"ok":true}',
    });
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('asks for compression and decodes a %s answer', async (encoding, compress) => {
    let accepted: string | undefined;
    handler = (req, res) => {
      accepted = req.headers['accept-encoding'];
      res.writeHead(200, { 'content-encoding': encoding });
      res.end(compress(Buffer.from('{"compressed":"yes"}')));
    };
    expect((await call('/z')).text).toBe('{"compressed":"yes"}');
    expect(accepted).toContain(encoding);
  });

  it('fails an answer larger than the cap, counted after decompression', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(Buffer.alloc(4096, 'a')));
    };
    expect((await failure(call('/big'))).code).toBe('ERR_RESPONSE_TOO_LARGE');
    handler = (_req, res) => res.end('x'.repeat(1024));
    expect((await call('/exact')).text).toHaveLength(1024);
  });

  it('times the whole exchange: an answer that trickles past the deadline fails ETIMEDOUT', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(drip));
    };
    const err = await failure(call('/slow', { timeoutMs: 200 }));
    expect([err.code, err.answered]).toEqual(['ETIMEDOUT', true]);
  });

  it('fails ECONNABORTED when its signal aborts, before or during the exchange', async () => {
    handler = () => undefined;
    const controller = new AbortController();
    const pending = call('/hang', { signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).code).toBe('ECONNABORTED');
    expect((await failure(call('/hang', { signal: AbortSignal.abort() }))).code).toBe('ECONNABORTED');
  });

  it('reports a connection cut mid-answer as ECONNRESET after an answer began', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.socket?.destroy());
    };
    const err = await failure(call('/cut'));
    expect([err.code, err.answered]).toEqual(['ECONNRESET', true]);
  });

  it("passes a socket's own error code on (nothing listening: ECONNREFUSED)", async () => {
    const port = await freePort();
    const err = await failure(sendHttp({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/`), headers: {}, timeoutMs: 2000, maxBytes: 10, agent }));
    expect([err.code, err.answered]).toEqual(['ECONNREFUSED', false]);
  });
});
