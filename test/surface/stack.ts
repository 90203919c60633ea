import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { portOf, startApi, type Harness } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { adminToken, apiTestConfig, demoIntegration, otherIntegration, parseLayeredConfig } from '../helpers/config';
import { REDIS_URL } from '../helpers/redis';
import { StubServer, type StubHandler } from '../helpers/stub-server';

/**
 * A real api + worker against a stub upstream, for the agent surfaces (MCP,
 * typed client, CLI). The upstream plays the contract's demo API:
 * `/contacts/{id}` answers the contact, `missing` 404, `slow-<ms>` after that
 * delay; `POST /orders` answers 201.
 */
export interface Stack {
  h: Harness;
  upstream: StubServer;
  worker: WorkerApp;
  baseUrl: string;
  config: BrokerConfig;
  close(): Promise<void>;
}

export function stackConfig(upstreamUrl: string, overrides: Record<string, unknown> = {}): BrokerConfig {
  const oneTry = { retry: { attempts: 1 } };
  return parseLayeredConfig(
    apiTestConfig,
    { admin: adminToken, integrations: { demo: demoIntegration(upstreamUrl, oneTry), other: otherIntegration(upstreamUrl, oneTry) } },
    overrides,
  );
}

export const ADMIN_TOKEN = 'admin-token-surface';

/** The demo upstream: see {@link Stack}. */
export const demoUpstream: StubHandler = (req) => {
  if (req.path === '/contacts/missing') return { status: 404, body: { error: 'no such contact' } };
  const slow = /^\/contacts\/slow-(\d+)$/.exec(req.path);
  if (slow) return { status: 200, body: { id: req.path.split('/').pop() }, delayMs: Number(slow[1]) };
  if (req.path.startsWith('/contacts/')) return { status: 200, body: { id: req.path.split('/').pop(), name: 'Ada' } };
  if (req.path === '/orders') return { status: 201, body: { orderId: `ord_${req.body.length}`, ...(JSON.parse(req.body || '{}') as object) } };
  return { status: 200, body: { pong: true } };
};

export async function startStack(label: string, options: { overrides?: Record<string, unknown> } = {}): Promise<Stack> {
  const upstream = await StubServer.start(demoUpstream);
  const config = stackConfig(upstream.url, options.overrides);
  const h = await startApi(label, { config });
  h.env.BROKER_ADMIN_TOKEN = ADMIN_TOKEN;
  const workerRedis = createRedis(REDIS_URL, 'worker');
  const worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets: envSecretsProvider(h.env), logger: testLogger(label) });
  await worker.ready();
  return {
    h,
    upstream,
    worker,
    config,
    baseUrl: `http://127.0.0.1:${portOf(h.server)}`,
    async close() {
      await worker.close();
      workerRedis.disconnect();
      await h.close();
      await upstream.close();
    },
  };
}
