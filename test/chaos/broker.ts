import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { adminToken, layeredConfig, triggerDelivery, webhookSources } from '../helpers/config';
import { findableNoteTool } from '../helpers/demo-tools';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { StubServer } from '../helpers/stub-server';

/*
 * The pieces every chaos test shares: the broker's production processes
 * (apps/*\/dist/main.js) on a private Redis, a config with one idempotent
 * write tool and a Stripe webhook route, an HTTP client that times every
 * answer, and the accounting that proves nothing was lost or duplicated.
 */

export const SECRETS = {
  AGENT_KEY: 'chaos-agent-key-0123456789abcdef',
  BROKER_ADMIN_TOKEN: 'chaos-admin-token-0123456789abcdef',
  STRIPE_WEBHOOK_SECRET: 'whsec_chaos_stripe_secret_0123456789',
  TRIGGER_SIGNING_SECRET: `whsec_${Buffer.from('chaos-trigger-signing-key-0123').toString('base64')}`,
};

export interface ChaosConfigOptions {
  upstreamUrl: string;
  /** Where triggers go; without it the config has no webhooks. */
  receiverUrl?: string;
  /** Merged into the `shop` integration (rate limit, breaker, retry, concurrency…). */
  shop?: Record<string, unknown>;
  retention?: { jobSeconds: number; idempotencySeconds: number };
  /** Stripe events and their dedupe claims are kept this many days. @defaultValue 7 */
  webhookRetentionDays?: number;
  /** `durability` of the config: "replicated" acknowledges once a replica has the write. @defaultValue "local" */
  durability?: 'local' | 'replicated';
}

/**
 * One integration, `shop`, with `shop.createOrder` (POST /orders, idempotent:
 * the job id goes upstream as Idempotency-Key), `shop.createNote` (POST
 * /notes, no key: the job id rides as `clientRef`, looked up before any
 * resend), and Stripe's
 * payment_intent.succeeded routed to the trigger `paid`. `worker` is sent on
 * every upstream call as `X-Worker` (through `apiVersion`), so the stub knows
 * which process called.
 */
export function chaosConfig(options: ChaosConfigOptions, worker = 'api'): Record<string, unknown> {
  return layeredConfig(
    {
      agents: [{ id: 'agent-chaos', key: { secret: 'AGENT_KEY' }, scopes: ['tools:shop.*'] }],
      admin: adminToken,
      integrations: {
        shop: {
          baseUrl: options.upstreamUrl,
          concurrency: 4,
          timeoutMs: 5000,
          retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 },
          apiVersion: { header: 'X-Worker', value: worker },
          ...options.shop,
          tools: [
            {
              name: 'shop.createOrder',
              method: 'POST',
              path: '/orders',
              idempotent: true,
              input: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' } } },
            },
            // No idempotency key: every try carries the job id as `clientRef`, and an earlier try is looked up by it.
            { ...findableNoteTool, name: 'shop.createNote' },
          ],
        },
      },
    },
    options.retention ? { retention: options.retention } : undefined,
    options.durability ? { durability: options.durability } : undefined,
    options.receiverUrl
      ? {
          webhooks: { stripe: { ...webhookSources.stripe, retentionDays: options.webhookRetentionDays ?? 7 } },
          routes: [{ source: 'stripe', event: 'payment_intent.succeeded', trigger: 'paid' }],
          triggerDelivery: triggerDelivery(`${options.receiverUrl}/hooks/agent`, { timeoutMs: 2000, retry: { attempts: 10, baseDelayMs: 200, maxDelayMs: 1000 } }),
        }
      : undefined,
  );
}

export interface BrokerProcess extends RunningProcess {
  label: string;
}

/** Starts processes of one broker deployment: a prefix, a Redis, a config. */
export class Deployment {
  readonly processes: BrokerProcess[] = [];
  constructor(
    private readonly redisUrl: string,
    private readonly config: ChaosConfigOptions,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  private env(label: string): Record<string, string> {
    return {
      ...SECRETS,
      BROKER_CONFIG: writeConfigFile(chaosConfig(this.config, label)),
      BROKER_REDIS_PREFIX: 'chaos',
      REDIS_URL: this.redisUrl,
      // A killed worker's jobs are taken over within about a second, not after 30 s.
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
      ...this.extraEnv,
    };
  }

  /** An API on a free port; resolves with its base URL. */
  async api(label = 'api'): Promise<{ proc: BrokerProcess; base: string }> {
    const proc = Object.assign(await startApp('api', { ...this.env(label), PORT: '0' }, 'api listening'), { label });
    this.processes.push(proc);
    const port = /"port":(\d+)/.exec(proc.output())![1];
    return { proc, base: `http://127.0.0.1:${port}` };
  }

  async worker(label: string): Promise<BrokerProcess> {
    const proc = Object.assign(await startApp('worker', this.env(label), 'worker ready'), { label });
    this.processes.push(proc);
    return proc;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => stopApp(p, 5000)));
  }
}

/** One HTTP exchange as the client saw it. */
export interface Exchange {
  status: number;
  /** Connection-level failure (refused, reset) or the client's own timeout: no answer at all. */
  error?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, like supertest's res.body: checks read whichever fields they assert on
  body: any;
  headers: Headers | undefined;
  startedAt: number;
  ms: number;
}

async function exchange(url: string, init: RequestInit, timeoutMs: number): Promise<Exchange> {
  const startedAt = Date.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: kept as text */
    }
    return { status: res.status, body, headers: res.headers, startedAt, ms: Date.now() - startedAt };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, error: e.cause?.code ?? e.name, body: undefined, headers: undefined, startedAt, ms: Date.now() - startedAt };
  }
}

const agentAuth = { Authorization: `Bearer ${SECRETS.AGENT_KEY}` };
const adminAuth = { Authorization: `Bearer ${SECRETS.BROKER_ADMIN_TOKEN}` };

/** What an agent and a webhook provider do, against whichever API `base` names now. */
export class BrokerClient {
  constructor(public base: string) {}

  submitOrder(idempotencyKey: string = randomUUID(), timeoutMs = 5000): Promise<Exchange> {
    return this.submit('shop.createOrder', { sku: idempotencyKey }, idempotencyKey, timeoutMs);
  }

  /** A write without an idempotency key upstream (`shop.createNote`). */
  submitNote(idempotencyKey: string = randomUUID(), timeoutMs = 5000): Promise<Exchange> {
    return this.submit('shop.createNote', { text: idempotencyKey }, idempotencyKey, timeoutMs);
  }

  private submit(tool: string, input: Record<string, unknown>, idempotencyKey: string, timeoutMs: number): Promise<Exchange> {
    return exchange(
      `${this.base}/v1/jobs`,
      {
        method: 'POST',
        headers: { ...agentAuth, 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
        body: JSON.stringify({ tool, input }),
      },
      timeoutMs,
    );
  }

  getJob(id: string, waitMs = 0): Promise<Exchange> {
    return exchange(`${this.base}/v1/jobs/${id}?waitMs=${waitMs}`, { headers: agentAuth }, waitMs + 5000);
  }

  /** A Stripe event signed with the stripe SDK's test header, as Stripe sends it. */
  postStripeEvent(eventId = `evt_${randomUUID().replace(/-/g, '')}`, timeoutMs = 5000): Promise<Exchange & { eventId: string }> {
    const body = JSON.stringify({ id: eventId, object: 'event', type: 'payment_intent.succeeded', data: { object: { id: `pi_${eventId}`, amount: 1200 } } });
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRETS.STRIPE_WEBHOOK_SECRET });
    return exchange(`${this.base}/hooks/stripe`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature }, body }, timeoutMs).then((x) => ({
      ...x,
      eventId,
    }));
  }

  getEvent(id: string): Promise<Exchange> {
    return exchange(`${this.base}/v1/events/${encodeURIComponent(id)}`, { headers: adminAuth }, 5000);
  }

  integrations(): Promise<Exchange> {
    return exchange(`${this.base}/v1/integrations`, { headers: adminAuth }, 5000);
  }
}

/** The agent's side of the triggers: records every delivery, answers 204. */
export class TriggerReceiver {
  private constructor(readonly stub: StubServer) {}

  static async start(): Promise<TriggerReceiver> {
    return new TriggerReceiver(await StubServer.start(() => ({ status: 204 })));
  }

  get url(): string {
    return this.stub.url;
  }

  /** Stripe event id → the distinct `webhook-id`s it was delivered under. */
  deliveriesByEvent(): Map<string, Set<string>> {
    const byEvent = new Map<string, Set<string>>();
    for (const req of this.stub.requests) {
      const { eventId } = JSON.parse(req.body) as { eventId: string };
      const ids = byEvent.get(eventId) ?? new Set<string>();
      ids.add(String(req.headers['webhook-id']));
      byEvent.set(eventId, ids);
    }
    return byEvent;
  }

  close(): Promise<void> {
    return this.stub.close();
  }
}

/** Resident set size of a process, in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
