import { createServer, Agent as HttpsAgent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { IntegrationClient, staticCredentials, ToolError } from '@broker/tools';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { uniquePrefix } from '../helpers/redis';
import { capturingLogger } from '../oauth/leak-check';
import { makeCa, makeLeaf, type Pem } from './certs';

/**
 * mTLS against a real HTTPS server that requires client certificates signed
 * by its CA; every certificate is generated for this run.
 */
const prefix = uniquePrefix('mtls');
let ca: Pem;
let client: Pem;
let rogue: Pem;
let server: Server;
let baseUrl: string;
/** Client certificate CN of each request that got through. */
const seen: string[] = [];
let handshakes = 0;
const env: Record<string, string | undefined> = {};
const log = capturingLogger('worker');
let config: BrokerConfig;
let rig: WorkerRig;

beforeAll(async () => {
  ca = await makeCa('Broker Test CA');
  const serverPem = await makeLeaf(ca, '127.0.0.1', 'server');
  client = await makeLeaf(ca, 'broker-client', 'client');
  rogue = await makeLeaf(await makeCa('Rogue CA'), 'rogue-client', 'client');
  server = createServer({ key: serverPem.key, cert: serverPem.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const cn = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN);
    seen.push(cn);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cn, path: req.url }));
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  config = parseConfig({
    integrations: {
      secure: {
        baseUrl,
        mtls: { cert: 'MTLS_CERT', key: 'MTLS_KEY', ca: 'MTLS_CA' },
        timeoutMs: 3000,
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        tools: [{ name: 'secure.ping', method: 'GET', path: '/ping/{n}', input: { type: 'object' } }],
      },
    },
  });
  rig = await startWorkerRig(config, prefix, env, log.logger);
}, 30_000);

afterAll(async () => {
  await rig?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

const run = async (n: string) => rig.jobs.settled(await rig.jobs.submit('secure.ping', { n }));

function present(pem: Pem | undefined): void {
  env.MTLS_CERT = pem?.cert;
  env.MTLS_KEY = pem?.key;
  env.MTLS_CA = ca.cert;
}

it('presents the client certificate: the server accepts the call', async () => {
  present(client);
  const job = await run('right');
  expect(job).toMatchObject({ status: 'succeeded', result: { cn: 'broker-client', path: '/ping/right' } });
});

it('a certificate from another CA is refused (classified, retried, failed) until the secret is rotated, without a restart', async () => {
  present(rogue);
  const before = seen.length;
  const refused = await run('rogue');
  expect(refused).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'UPSTREAM_ERROR', retryable: true } });
  expect(seen.length).toBe(before);

  present(client);
  const rotated = await run('rotated');
  expect(rotated).toMatchObject({ status: 'succeeded', result: { cn: 'broker-client' } });
});

it('a missing or malformed certificate secret fails AUTHENTICATION_FAILED before any connection', async () => {
  present(undefined);
  const handshakesBefore = handshakes;
  const missing = await run('missing');
  expect(missing).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'AUTHENTICATION_FAILED', retryable: false } });
  expect(missing.error!.message).toContain('MTLS_CERT');

  env.MTLS_CERT = '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n';
  env.MTLS_KEY = client.key;
  const malformed = await run('malformed');
  expect(malformed).toMatchObject({ status: 'failed', error: { code: 'AUTHENTICATION_FAILED' } });
  expect(malformed.error!.message).toMatch(/not usable/);
  expect(handshakes).toBe(handshakesBefore);
});

it('a call without a client certificate is refused by the TLS handshake: AUTHENTICATION_FAILED, not retryable', async () => {
  // The integration client with an agent that trusts the server but presents no certificate.
  const integration = config.integrations.secure!;
  const http = new IntegrationClient('secure', integration, staticCredentials('secure', integration, envSecretsProvider({})), log.logger, {
    agent: async () => new HttpsAgent({ ca: ca.cert }),
  }).forCall({ tool: 'secure.ping', jobId: 'j1', attempt: 1, connection: 'default', write: false, requestId: 'r1' });
  const err = await http.request({ method: 'GET', path: '/ping/none' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ToolError);
  expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', retryable: false });
  expect((err as ToolError).message).toMatch(/TLS handshake/);
});

it('never logs a private key', () => {
  expect(log.text()).not.toContain('PRIVATE KEY');
  expect(log.text()).toContain('"integration":"secure"');
});
