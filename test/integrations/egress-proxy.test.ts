import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { envSecretsProvider, parseConfig } from '@broker/shared';
import { createIntegrationClients, upstreamProxy, type IntegrationClient } from '@broker/tools';
import { makeCa, makeLeaf } from '../mtls/certs';
import { capturingLogger } from '../oauth/leak-check';
import { StubServer } from '../helpers/stub-server';

/**
 * Upstream calls go through the egress proxy the environment names
 * (HTTP_PROXY / HTTPS_PROXY, NO_PROXY), as curl's do: plain http as
 * absolute-URI requests to the proxy, https (mTLS included) through a CONNECT
 * tunnel, so the TLS session and the client certificate stay end to end.
 */
interface Seen {
  line: string;
  auth: string | undefined;
}

let proxy: Server;
let proxyUrl: string;
const proxied: Seen[] = [];
let plain: StubServer;
let secure: HttpsServer;
let secureUrl: string;
const secureSeen: string[] = [];
const env: Record<string, string> = {};
const log = capturingLogger('worker');
const PROXY_AUTH = 'egress-user:egress-pass-1234';
/** Every socket of the proxy and the https upstream: tunnels and keep-alive sockets outlive their requests. */
const sockets = new Set<{ destroy(): void }>();
const SAVED = { HTTP_PROXY: process.env.HTTP_PROXY, HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };

beforeAll(async () => {
  // A forward proxy: absolute-URI requests are relayed, CONNECT opens a tunnel.
  proxy = createHttpServer((req, res) => {
    proxied.push({ line: `${req.method} ${req.url}`, auth: req.headers['proxy-authorization'] });
    const target = new URL(req.url!);
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  proxy.on('connect', (req, socket, head) => {
    proxied.push({ line: `CONNECT ${req.url}`, auth: req.headers['proxy-authorization'] });
    const [host, port] = req.url!.split(':');
    const tunnel = connect(Number(port), host!, () => {
      sockets.add(tunnel);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      tunnel.write(head);
      tunnel.pipe(socket);
      socket.pipe(tunnel);
    });
    tunnel.on('error', () => socket.destroy());
    socket.on('error', () => tunnel.destroy());
  });
  proxy.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://${PROXY_AUTH}@127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  plain = await StubServer.start((req) => ({ body: { path: req.path } }));

  const ca = await makeCa('Egress Test CA');
  const serverPem = await makeLeaf(ca, '127.0.0.1', 'server');
  const client = await makeLeaf(ca, 'broker-client', 'client');
  secure = createHttpsServer({ key: serverPem.key, cert: serverPem.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    secureSeen.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ secure: true, path: req.url }));
  });
  secure.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  Object.assign(env, { MTLS_CERT: client.cert, MTLS_KEY: client.key, MTLS_CA: ca.cert });
}, 30_000);

afterEach(() => {
  for (const [k, v] of Object.entries(SAVED)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

afterAll(async () => {
  await plain.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await new Promise((resolve) => secure.close(resolve));
});

/** The clients the worker would build, with the environment as it is now. */
function clients(): Map<string, IntegrationClient> {
  const config = parseConfig({
    integrations: {
      plain: { baseUrl: plain.url, tools: [] },
      secure: { baseUrl: secureUrl, mtls: { cert: 'MTLS_CERT', key: 'MTLS_KEY', ca: 'MTLS_CA' }, tools: [] },
    },
  });
  return createIntegrationClients(config, envSecretsProvider(env), log.logger);
}

function call(client: IntegrationClient, path: string) {
  return client.forCall({ tool: 't', jobId: 'j', attempt: 1, connection: 'default', write: false, requestId: 'r' }).request({ method: 'GET', path, query: { q: 'a b' } });
}

it('reads the proxy from the environment by scheme, and NO_PROXY exempts hosts', () => {
  process.env.HTTP_PROXY = 'http://proxy.internal:3128';
  delete process.env.HTTPS_PROXY;
  process.env.NO_PROXY = 'api.internal,.corp.example';
  expect(upstreamProxy('http://api.example.com/v1')).toBe('http://proxy.internal:3128');
  expect(upstreamProxy('https://api.example.com/v1')).toBeUndefined();
  expect(upstreamProxy('http://api.internal/v1')).toBeUndefined();
  expect(upstreamProxy('http://crm.corp.example/v1')).toBeUndefined();
});

it('sends plain http calls through the proxy as absolute-URI requests, with its credentials', async () => {
  process.env.HTTP_PROXY = proxyUrl;
  process.env.NO_PROXY = '';
  const before = plain.count(() => true);
  const res = await call(clients().get('plain')!, '/contacts/1');
  expect(res).toMatchObject({ status: 200, data: { path: '/contacts/1' } });
  expect(plain.count(() => true)).toBe(before + 1);
  expect(proxied.at(-1)).toEqual({ line: `GET ${plain.url}/contacts/1?q=a+b`, auth: `Basic ${Buffer.from(PROXY_AUTH).toString('base64')}` });
});

it('tunnels https through CONNECT: the client certificate reaches the upstream, not the proxy', async () => {
  process.env.HTTPS_PROXY = proxyUrl;
  process.env.NO_PROXY = '';
  const res = await call(clients().get('secure')!, '/ping');
  expect(res).toMatchObject({ status: 200, data: { secure: true, path: '/ping?q=a+b' } });
  expect(secureSeen.at(-1)).toBe('broker-client');
  expect(proxied.at(-1)).toMatchObject({ line: `CONNECT ${new URL(secureUrl).host}` });
  // The proxy saw a tunnel, never the request inside it.
  expect(proxied.some((p) => p.line.includes('/ping'))).toBe(false);
});

it('calls direct when no proxy is set or NO_PROXY names the host', async () => {
  delete process.env.HTTP_PROXY;
  delete process.env.HTTPS_PROXY;
  const before = proxied.length;
  await call(clients().get('plain')!, '/direct');
  process.env.HTTP_PROXY = proxyUrl;
  process.env.HTTPS_PROXY = proxyUrl;
  process.env.NO_PROXY = '127.0.0.1';
  await call(clients().get('plain')!, '/exempt');
  await call(clients().get('secure')!, '/exempt');
  expect(proxied.length).toBe(before);
});

it('never logs the proxy credentials', () => {
  expect(log.text()).toContain('upstream call');
  expect(log.text()).not.toContain('egress-pass-1234');
});
