import { Queue } from 'bullmq';
import request from 'supertest';
import { bullPrefix, TRIGGERS_QUEUE } from '@broker/shared/queues';
import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { EventDetail } from '@broker/shared/webhooks/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { startApi, type Harness } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { adminToken, apiTestConfig, NOWHERE_URL, parseLayeredConfig, standardAgents, triggerDelivery, webhookSources } from '../helpers/config';
import { REDIS_URL } from '../helpers/redis';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { SECRETS, type Signed } from './signers';

export const ADMIN_TOKEN = 'admin-token-for-webhook-tests';
export const READER_KEY = 'key-agent-b-old'; // agent-b: events:read (see ../api/harness)
export const REPLAYER_KEY = 'key-agent-r';

/** The contract's example webhooks and routes, plus sources for limits and retention tests. */
export function webhookConfig(deliveryUrl = `${NOWHERE_URL}/hooks/agent`, overrides: Record<string, unknown> = {}): BrokerConfig {
  return parseLayeredConfig(
    apiTestConfig,
    {
      agents: [...standardAgents, { id: 'agent-r', key: { secret: 'AGENT_R_KEY' }, scopes: ['events:read', 'events:replay'] }],
      admin: adminToken,
      webhooks: {
        ...webhookSources,
        small: { ...webhookSources.github, maxBodyBytes: 256 },
        brief: { ...webhookSources.acme, retentionDays: 1 / 86400 },
      },
      routes: [
        { source: 'stripe', event: 'payment_intent.succeeded', trigger: 'process_successful_payment' },
        { source: 'stripe', event: 'customer.*', trigger: 'customer_sync' },
        { source: 'github', event: '*', trigger: 'github_activity' },
        { source: 'shopify', event: 'orders/*', trigger: 'order_flow' },
        { source: 'acme', event: '*', trigger: 'acme_any' },
        { source: 'brief', event: '*', trigger: 'brief_any' },
      ],
      triggerDelivery: triggerDelivery(deliveryUrl, { timeoutMs: 2000, retry: { attempts: 6, baseDelayMs: 100, maxDelayMs: 400 } }),
    },
    overrides,
  );
}

/** Every secret the webhook config names. */
export function webhookSecrets(): Record<string, string> {
  return {
    STRIPE_WEBHOOK_SECRET: SECRETS.stripe,
    GITHUB_WEBHOOK_SECRET: SECRETS.github,
    SHOPIFY_WEBHOOK_SECRET: SECRETS.shopify,
    ACME_WEBHOOK_SECRET: SECRETS.standard,
    TRIGGER_SIGNING_SECRET: SECRETS.trigger,
    BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
    AGENT_R_KEY: REPLAYER_KEY,
  };
}

export async function startWebhookApi(label: string, options: { config?: BrokerConfig; producerUrl?: string; subscriberUrl?: string } = {}): Promise<Harness> {
  const h = await startApi(label, { config: options.config ?? webhookConfig(), ...options });
  Object.assign(h.env, webhookSecrets());
  return h;
}

/** The worker app (trigger deliveries included) on the api's prefix, reading secrets from `env`. */
export async function startWorker(
  config: BrokerConfig,
  prefix: string,
  env: Record<string, string | undefined>,
  outboxSweepMs = 200,
): Promise<{ app: WorkerApp; close(): Promise<void> }> {
  const redis = createRedis(REDIS_URL, 'worker');
  const app = createWorkerApp({ config, redis, prefix, secrets: envSecretsProvider(env), logger: testLogger('worker'), outboxSweepMs });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      redis.disconnect();
    },
  };
}

export function post(h: Harness, source: string, signed: Signed): request.Test {
  const req = request(h.server).post(`/hooks/${source}`);
  for (const [k, v] of Object.entries(signed.headers)) req.set(k, v);
  return req.send(signed.body);
}

/** Stored event hashes under the harness' prefix. */
export async function storedEventCount(h: Harness): Promise<number> {
  const keys = await h.redis.keys(`${h.prefix}:evt:*`);
  return keys.length;
}

/** A receiver stub, an api and a worker delivering to the stub, and the triggers queue: the rig of the delivery tests. */
export interface DeliveryRig {
  stub: StubServer;
  h: Harness;
  config: BrokerConfig;
  worker: Awaited<ReturnType<typeof startWorker>>;
  queue: Queue;
  /** The event as `GET /v1/events/{id}` shows it to the admin. */
  readEvent(id: string): Promise<EventDetail>;
  /** Waits until every delivery of the event (at least `count`) is delivered or failed. */
  settled(id: string, count?: number): Promise<EventDetail>;
  close(): Promise<void>;
}

export async function startDeliveryRig(label: string): Promise<DeliveryRig> {
  const stub = await StubServer.start();
  // The harness config: 6 tries, backoff 100–400 ms, 2 s per try.
  const config = webhookConfig(`${stub.url}/hooks/agent`);
  const h = await startWebhookApi(label, { config });
  const worker = await startWorker(config, h.prefix, h.env);
  const queue = new Queue(TRIGGERS_QUEUE, { connection: h.redis, prefix: bullPrefix(h.prefix, TRIGGERS_QUEUE) });
  const readEvent = async (id: string): Promise<EventDetail> =>
    (await request(h.server).get(`/v1/events/${id}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`).expect(200)).body as EventDetail;
  const settled = (id: string, count = 1) =>
    waitFor(
      async () => {
        const event = await readEvent(id);
        const done = event.deliveries.filter((d) => d.status === 'delivered' || d.status === 'failed');
        return done.length >= count && event.deliveries.length === done.length ? event : undefined;
      },
      { timeoutMs: 10_000, what: `deliveries of ${id} to settle` },
    );
  return {
    stub,
    h,
    config,
    worker,
    queue,
    readEvent,
    settled,
    async close() {
      await worker.close();
      await queue.close();
      await h.close();
      await stub.close();
    },
  };
}
