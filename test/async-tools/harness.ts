import request from 'supertest';
import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { PublicJob } from '@broker/shared/jobs/schema';
import { createWorkerApp, type WorkerApp } from '@broker/worker';
import { bearer, startApi, type Harness } from '../api/harness';
import { testLogger } from '../helpers/broker';
import { adminToken, parseLayeredConfig, triggerDelivery, webhookSources } from '../helpers/config';
import { REDIS_URL } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { SECRETS, type Signed } from '../webhooks/signers';

export const AGENT_KEY = 'key-agent-async';

/**
 * A broker (api + worker, in this process, on one prefix) for async tools:
 * `integrations` and `extra` are merged into a config with the stripe and
 * acme webhook sources, an agent allowed every tool, and trigger delivery to
 * `triggerUrl` for Stripe's payment_intent.succeeded.
 */
export function asyncConfig(options: { integrations: Record<string, unknown>; triggerUrl?: string; extra?: Record<string, unknown> }): BrokerConfig {
  return parseLayeredConfig(
    {
      agents: [{ id: 'agent-async', key: { secret: 'AGENT_ASYNC_KEY' }, scopes: ['tools:*', 'events:read'] }],
      admin: adminToken,
      integrations: options.integrations,
      webhooks: { stripe: webhookSources.stripe, acme: webhookSources.acme },
    },
    options.triggerUrl
      ? {
          routes: [{ source: 'stripe', event: 'payment_intent.succeeded', trigger: 'payment_done' }],
          triggerDelivery: triggerDelivery(options.triggerUrl, { retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 100 } }),
        }
      : undefined,
    options.extra,
  );
}

export interface Broker {
  h: Harness;
  worker: WorkerApp;
  submit(tool: string, input: Record<string, unknown>): Promise<PublicJob>;
  get(id: string): Promise<PublicJob>;
  settled(id: string, timeoutMs?: number): Promise<PublicJob>;
  /** Waits until the job is running with a reference in its progress (the wait has begun). */
  waiting(id: string, timeoutMs?: number): Promise<PublicJob>;
  hook(source: string, signed: Signed): request.Test;
  close(): Promise<void>;
}

export async function startBroker(label: string, config: BrokerConfig, env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<Broker> {
  const h = await startApi(label, { config });
  Object.assign(h.env, {
    AGENT_ASYNC_KEY: AGENT_KEY,
    BROKER_ADMIN_TOKEN: 'admin-token-async',
    STRIPE_WEBHOOK_SECRET: SECRETS.stripe,
    ACME_WEBHOOK_SECRET: SECRETS.standard,
    TRIGGER_SIGNING_SECRET: SECRETS.trigger,
    STRIPE_KEY: 'sk_test_async',
    ...env,
  });
  const redis = createRedis(REDIS_URL, 'worker');
  const worker = createWorkerApp({ config, redis, prefix: h.prefix, secrets: envSecretsProvider(h.env), logger: options.logger ?? testLogger('worker'), outboxSweepMs: 200 });
  await worker.ready();

  const get = async (id: string): Promise<PublicJob> => {
    const res = await request(h.server).get(`/v1/jobs/${id}`).set(bearer(AGENT_KEY));
    if (res.status !== 200) throw new Error(`GET /v1/jobs/${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as PublicJob;
  };
  return {
    h,
    worker,
    async submit(tool, input) {
      const res = await request(h.server).post('/v1/jobs').set(bearer(AGENT_KEY)).send({ tool, input });
      if (res.status !== 202) throw new Error(`submit ${tool}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as PublicJob;
    },
    get,
    settled: (id, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const job = await get(id);
          return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
        },
        { timeoutMs, what: `job ${id} to finish` },
      ),
    waiting: (id, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const job = await get(id);
          return job.status === 'running' && (job.progress as { reference?: string } | undefined)?.reference ? job : undefined;
        },
        { timeoutMs, what: `job ${id} to wait for its upstream operation` },
      ),
    hook(source, signed) {
      const req = request(h.server).post(`/hooks/${source}`);
      for (const [k, v] of Object.entries(signed.headers)) req.set(k, v);
      return req.send(signed.body);
    },
    async close() {
      await worker.close();
      redis.disconnect();
      await h.close();
    },
  };
}
