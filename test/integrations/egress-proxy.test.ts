import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import { vaultSecretsProvider } from '@broker/tools/secrets/vault';
import { createIntegrationClients, oauthTokenFetcher, upstreamProxy, vaultHttp, type EgressProxy, type IntegrationClient } from '@broker/tools';
import { readWorkerSettings } from '@broker/worker';
import { makeCa, makeLeaf } from '../mtls/certs';
import { capturingLogger } from '../oauth/leak-check';
import { StubServer } from '../helpers/stub-server';

/**
 * Upstream calls go through the egress proxy the worker's environment names
 * (HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, NO_PROXY), as curl's do: plain http
 * as absolute-URI requests to the proxy, https (mTLS included) through a
 * CONNECT tunnel, so the TLS session and the client certificate stay end to end.
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

afterAll(async () => {
  await plain.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await new Promise((resolve) => secure.close(resolve));
});

/** The clients the worker builds with these proxy settings. */
function clients(egress: EgressProxy): Map<string, IntegrationClient> {
  const config = parseConfig({
    integrations: {
      plain: { baseUrl: plain.url, tools: [] },
      secure: { baseUrl: secureUrl, mtls: { cert: 'MTLS_CERT', key: 'MTLS_KEY', ca: 'MTLS_CA' }, tools: [] },
    },
  });
  return createIntegrationClients(config, envSecretsProvider(env), log.logger, undefined, egress);
}

function call(client: IntegrationClient, path: string) {
  return client.forCall({ tool: 't', jobId: 'j', attempt: 1, connection: 'default', write: false, requestId: 'r' }).request({ method: 'GET', path, query: { q: 'a b' } });
}

it("reads the proxy from the worker's environment, lower-case names first", () => {
  const base = { BROKER_CONFIG: 'broker.config.example.json' };
  expect(readWorkerSettings({ ...base }).egressProxy).toEqual({ http: undefined, https: undefined, all: undefined, noProxy: undefined });
  expect(
    readWorkerSettings({ ...base, HTTP_PROXY: 'http://upper:3128', http_proxy: 'http://lower:3128', HTTPS_PROXY: 'http://s:3128', ALL_PROXY: 'http://a:1', no_proxy: 'x.internal' })
      .egressProxy,
  ).toEqual({ http: 'http://lower:3128', https: 'http://s:3128', all: 'http://a:1', noProxy: 'x.internal' });
});

it('picks the proxy by scheme, falls back to ALL_PROXY, and NO_PROXY exempts hosts', () => {
  const egress: EgressProxy = { http: 'http://proxy.internal:3128', noProxy: 'api.internal, .corp.example,10.0.0.7:8443' };
  expect(upstreamProxy('http://api.example.com/v1', egress)).toBe('http://proxy.internal:3128');
  expect(upstreamProxy('https://api.example.com/v1', egress)).toBeUndefined();
  expect(upstreamProxy('https://api.example.com/v1', { ...egress, all: 'http://all:1' })).toBe('http://all:1');
  expect(upstreamProxy('http://api.internal/v1', egress)).toBeUndefined();
  expect(upstreamProxy('http://crm.corp.example/v1', egress)).toBeUndefined();
  expect(upstreamProxy('http://corp.example/v1', egress)).toBeUndefined();
  expect(upstreamProxy('http://notcorp.example/v1', egress)).toBe('http://proxy.internal:3128');
  expect(upstreamProxy('http://10.0.0.7:8443/v1', egress)).toBeUndefined();
  expect(upstreamProxy('http://10.0.0.7:9000/v1', egress)).toBe('http://proxy.internal:3128');
  expect(upstreamProxy('http://anything/v1', { ...egress, noProxy: '*' })).toBeUndefined();
  expect(upstreamProxy('http://anything/v1', undefined)).toBeUndefined();
});

it('sends plain http calls through the proxy as absolute-URI requests, with its credentials', async () => {
  const before = plain.count(() => true);
  const res = await call(clients({ http: proxyUrl }).get('plain')!, '/contacts/1');
  expect(res).toMatchObject({ status: 200, data: { path: '/contacts/1' } });
  expect(plain.count(() => true)).toBe(before + 1);
  expect(proxied.at(-1)).toEqual({ line: `GET ${plain.url}/contacts/1?q=a+b`, auth: `Basic ${Buffer.from(PROXY_AUTH).toString('base64')}` });
});

it('tunnels https through CONNECT: the client certificate reaches the upstream, not the proxy', async () => {
  const res = await call(clients({ https: proxyUrl }).get('secure')!, '/ping');
  expect(res).toMatchObject({ status: 200, data: { secure: true, path: '/ping?q=a+b' } });
  expect(secureSeen.at(-1)).toBe('broker-client');
  expect(proxied.at(-1)).toMatchObject({ line: `CONNECT ${new URL(secureUrl).host}` });
  // The proxy saw a tunnel, never the request inside it.
  expect(proxied.some((p) => p.line.includes('/ping'))).toBe(false);
});

it('calls direct when no proxy is set or NO_PROXY names the host', async () => {
  const before = proxied.length;
  await call(clients({}).get('plain')!, '/direct');
  const exempted = clients({ http: proxyUrl, https: proxyUrl, noProxy: '127.0.0.1' });
  await call(exempted.get('plain')!, '/exempt');
  await call(exempted.get('secure')!, '/exempt');
  expect(proxied.length).toBe(before);
});

it('sends Vault reads and OAuth token requests through the proxy too, and NO_PROXY exempts them alike', async () => {
  const reads = (egress: EgressProxy) => vaultSecretsProvider({ addr: plain.url, token: 'hvs.egress-test' }, vaultHttp({ proxy: egress })).get('SOME_SECRET');
  const refresh = (egress: EgressProxy) =>
    oauthTokenFetcher(envSecretsProvider({ CLIENT_SECRET: 'client-secret-1234' }), { proxy: egress })({
      integration: 'crm',
      connection: 'default',
      auth: {
        type: 'oauth2',
        grant: 'client_credentials',
        tokenUrl: `${plain.url}/oauth/token`,
        clientId: 'broker',
        clientSecret: 'CLIENT_SECRET',
        tokenAuthMethod: 'client_secret_post',
      },
      // The stub answers without an access_token: the request is what counts here.
    }).catch(() => undefined);
  const before = proxied.length;
  await reads({ http: proxyUrl });
  await refresh({ http: proxyUrl });
  expect(proxied.slice(before).map((p) => p.line)).toEqual([`GET ${plain.url}/v1/secret/data/SOME_SECRET`, `POST ${plain.url}/oauth/token`]);

  await reads({ http: proxyUrl, noProxy: '127.0.0.1' });
  await refresh({ http: proxyUrl, noProxy: '127.0.0.1' });
  expect(proxied.length).toBe(before + 2);
});

it('never logs the proxy credentials', () => {
  expect(log.text()).toContain('upstream call');
  expect(log.text()).not.toContain('egress-pass-1234');
});
