import { z } from 'zod';
import { apiRateLimitSchema, dailyJobCapsSchema } from './limits-schema';
import { alertsSchema } from './alerts-schema';
import { asyncToolSchema, eventTypeList } from './async-schema';
import { referenceSchema, verifySchema, writeLookupIssues } from './verify-schema';
import { secretName } from './secret-name';
import { agentConnectionSchema, agentKeySchema, approvalRuleSchema, spendCapSchema } from './guardrails-schema';
import { mcpAgentClaimSchema, mcpAuthorizationServerSchema } from './mcp-schema';

/**
 * The configuration file (docs/configuration.md). Objects are strict so that a typo in a
 * field name is reported at start instead of silently ignored.
 */

const secretRef = z.strictObject({ secret: secretName });

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A browser origin: `scheme://host[:port]`, no path, query or fragment. */
const webOrigin = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return /^https?:$/.test(url.protocol) && !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash && !text.endsWith('/');
  } catch {
    return false;
  }
}, 'must be an origin such as "https://app.example.com" (scheme://host[:port], no path)');

const rateWindow = z.strictObject({
  max: z.int().positive(),
  durationMs: z.int().positive(),
});

export const rateLimitSchema = rateWindow.extend({
  /** Applied to each connection on its own, on top of the integration-wide window. */
  perConnection: rateWindow.optional(),
});

const apiKeyAuth = z.strictObject({
  type: z.literal('apiKey'),
  /**
   * No zod default, so that a header written in the file can be told from one
   * left out: left out, the tools' resolver (`apiKeyHeader`) sends the
   * integration's native form (docs/integrations.md#built-in-integrations). @defaultValue `Authorization`;
   * `X-Shopify-Access-Token` for the built-in shopify
   */
  header: z.string().min(1).optional(),
  /** Prepended to the secret value. @defaultValue `"Bearer "` for the built-in stripe, hubspot, github; `""` otherwise */
  prefix: z.string().optional(),
  secret: secretName,
});

const oauth2Auth = z.strictObject({
  type: z.literal('oauth2'),
  grant: z.enum(['authorization_code', 'client_credentials']),
  tokenUrl: httpUrl,
  authorizeUrl: httpUrl.optional(),
  clientId: z.string().min(1),
  clientSecret: secretName,
  scopes: z.array(z.string()).optional(),
  /**
   * How the client authenticates at `tokenUrl` (RFC 6749 §2.3.1): in the form
   * body (HubSpot, GitHub) or as HTTP Basic. @defaultValue "client_secret_post"
   */
  tokenAuthMethod: z.enum(['client_secret_post', 'client_secret_basic']).default('client_secret_post'),
});

const noAuth = z.strictObject({ type: z.literal('none') });

export const authSchema = z.discriminatedUnion('type', [noAuth, apiKeyAuth, oauth2Auth]);

const jsonSchemaObject = z.record(z.string(), z.unknown());

const toolName = z.string().regex(/^[a-z][a-zA-Z0-9_-]*\.[a-zA-Z][a-zA-Z0-9_]*$/, 'must look like "<integration>.<action>"');

export const declaredToolSchema = z
  .strictObject({
    name: toolName,
    description: z.string().default(''),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    /** Path below the integration's baseUrl; `{param}` placeholders are filled from the input. */
    path: z.string().startsWith('/'),
    /** The upstream honours an `Idempotency-Key` header, so every attempt of a job may resend. */
    idempotent: z.boolean().default(false),
    input: jsonSchemaObject.default({ type: 'object' }),
    output: jsonSchemaObject.optional(),
    /** The upstream finishes later: poll a status path and/or wait for a correlated webhook (docs/async-tools.md "Async tools"). */
    async: asyncToolSchema.optional(),
    /** A write without an idempotency key: every try carries the job id here, so `verify` can find it. */
    reference: referenceSchema.optional(),
    /** How to look up what an earlier try did before the write is sent again (docs/configuration.md#writes-without-an-idempotency-key-reference-and-verify). */
    verify: verifySchema.optional(),
  })
  .superRefine((tool, ctx) => {
    for (const issue of writeLookupIssues(tool)) ctx.addIssue({ code: 'custom', ...issue });
  });

const connectionSchema = z.strictObject({
  auth: authSchema.optional(),
  rateLimit: rateWindow.optional(),
});

export const integrationSchema = z.strictObject({
  baseUrl: httpUrl,
  auth: authSchema.default({ type: 'none' }),
  rateLimit: rateLimitSchema.optional(),
  /** Jobs run at once per worker process. @defaultValue 10 */
  concurrency: z.int().positive().max(1000).default(10),
  /** @defaultValue 10000 */
  timeoutMs: z.int().positive().max(600_000).default(10_000),
  retry: z
    .strictObject({
      /** Every try counts, the first included. @defaultValue 5 */
      attempts: z.int().min(1).max(100).default(5),
      baseDelayMs: z.int().min(0).default(500),
      maxDelayMs: z.int().min(0).default(30_000),
    })
    .default({ attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 }),
  circuitBreaker: z
    .strictObject({
      failureThreshold: z.int().positive().default(5),
      recoveryTimeoutMs: z.int().positive().default(30_000),
    })
    .default({ failureThreshold: 5, recoveryTimeoutMs: 30_000 }),
  /**
   * Follow the budget the API reports (`RateLimit`, `X-RateLimit-*`, `Retry-After`
   * on a success): when `remaining` falls to `floor`, pause until the reset,
   * before a 429. `false` turns it off. @defaultValue `{ floor: 1 }`
   */
  adaptiveRateLimit: z.union([z.literal(false), z.strictObject({ floor: z.int().min(0).default(1) })]).default({ floor: 1 }),
  apiVersion: z.strictObject({ header: z.string().min(1), value: z.string().min(1) }).optional(),
  /** Header that carries the upstream idempotency key. @defaultValue "Idempotency-Key" */
  idempotencyHeader: z.string().min(1).default('Idempotency-Key'),
  mtls: z.strictObject({ cert: secretName, key: secretName, ca: secretName.optional() }).optional(),
  connections: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), connectionSchema).optional(),
  tools: z.array(declaredToolSchema).default([]),
  /** Overrides how often async tools of this integration check their upstream (e.g. the built-in tools' 10 s against a sandbox). */
  asyncPoll: z.strictObject({ intervalMs: z.int().min(10).max(3_600_000), maxIntervalMs: z.int().min(10).max(3_600_000).optional() }).optional(),
});

const agentSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  /** `{secret}` (a secret holding the key, or several comma separated) or `{sha256}` (the key's digest, or a list). */
  key: agentKeySchema,
  scopes: z.array(z.string().min(1)).default([]),
  /** The connections this agent may use, `"<integration>/<connection glob>"`. @defaultValue every connection */
  connections: z.array(agentConnectionSchema).optional(),
  /** This agent's request limit on the API; overrides the top-level `apiRateLimit`. */
  rateLimit: apiRateLimitSchema.optional(),
  /** Cost guard: jobs per UTC day per tool glob (docs/guardrails.md "Daily job caps"). */
  dailyJobCaps: dailyJobCapsSchema.optional(),
  /** Spend guard: the sum of an input field per UTC day per tool glob. */
  spendCaps: z.array(spendCapSchema).optional(),
});

const webhookSourceSchema = z.strictObject({
  type: z.enum(['stripe', 'github', 'shopify', 'standard']),
  secret: secretName,
  /** How long an event id is remembered for dedupe. @defaultValue 7 days */
  retentionDays: z.number().positive().max(365).optional(),
  /** Larger bodies are refused with 413 before they are verified. @defaultValue 1 MiB */
  maxBodyBytes: z
    .int()
    .positive()
    .max(64 * 1024 * 1024)
    .optional(),
});

const routeSchema = z.strictObject({
  source: z.string().min(1),
  /**
   * The event type: exact (`payment_intent.succeeded`), `*` for every type, or
   * a prefix glob ending in `*` (`customer.*`, `orders/*`).
   */
  event: z
    .string()
    .min(1)
    .regex(/^[^*]*\*?$/, 'use an exact type, "*", or a prefix ending in "*" such as "customer.*"'),
  trigger: z.string().min(1).max(200),
});

const triggerDeliverySchema = z.strictObject({
  url: httpUrl,
  format: z.enum(['standard', 'openclaw']).default('standard'),
  /** Signs every delivery (Standard Webhooks); comma-separated values sign with each (rotation). */
  secret: secretName,
  /** @defaultValue 10000 */
  timeoutMs: z.int().positive().max(120_000).default(10_000),
  /** Deliveries at once per worker process. @defaultValue 10 */
  concurrency: z.int().positive().max(1000).default(10),
  retry: z
    .strictObject({
      /** Every try counts, the first included. @defaultValue 10 */
      attempts: z.int().min(1).max(100).default(10),
      /** The first retry waits between half of this and this. @defaultValue 1000 */
      baseDelayMs: z.int().min(0).default(1000),
      maxDelayMs: z.int().min(0).default(600_000),
    })
    .default({ attempts: 10, baseDelayMs: 1000, maxDelayMs: 600_000 }),
  /** For `format: "openclaw"`: OpenClaw's `hooks.token`, and what `/hooks/agent` may receive. */
  openclaw: z
    .strictObject({
      token: secretName,
      agentId: z.string().min(1).optional(),
      /** Send `sessionKey` (`hook:<source>:<entity>`); OpenClaw accepts it only with `hooks.allowRequestSessionKey`. @defaultValue false */
      sessionKeys: z.boolean().default(false),
    })
    .optional(),
});

export const configSchema = z
  .strictObject({
    agents: z.array(agentSchema).default([]),
    admin: z.strictObject({ token: secretRef }).optional(),
    integrations: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'integration names are lower-case: a-z 0-9 _ -'), integrationSchema).default({}),
    webhooks: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), webhookSourceSchema).default({}),
    routes: z.array(routeSchema).default([]),
    triggerDelivery: triggerDeliverySchema.optional(),
    callbacks: z.strictObject({ secret: secretName, allowHosts: z.array(z.string()).default([]) }).optional(),
    /** Every agent's request limit on the API unless the agent sets its own; none when left out. */
    apiRateLimit: apiRateLimitSchema.optional(),
    /** How long finished job records (and their results) are kept. */
    retention: z
      .strictObject({
        /** @defaultValue 7 days */
        jobSeconds: z
          .int()
          .positive()
          .default(7 * 24 * 3600),
        /** Idempotency keys are remembered this long. @defaultValue 24 h */
        idempotencySeconds: z
          .int()
          .positive()
          .default(24 * 3600),
        /** The audit trail (`GET /v1/audit`) keeps this many days. @defaultValue 90 */
        auditDays: z.int().positive().max(3650).default(90),
      })
      .default({ jobSeconds: 7 * 24 * 3600, idempotencySeconds: 24 * 3600, auditDays: 90 }),
    /**
     * When a webhook's 200 and a job's 202 are sent: once the Redis primary
     * has the write (`local`), or once at least one replica has it too
     * (`replicated`, `WAIT 1`; none in time: 503). @defaultValue "local"
     */
    durability: z.enum(['local', 'replicated']).default('local'),
    /** Jobs held for a person's approval before any upstream call (docs/guardrails.md "Approval holds"). */
    approvals: z.array(approvalRuleSchema).default([]),
    /** Where alerts go (docs/operations.md "Alerts"); without it they are logged and counted only. */
    alerts: alertsSchema.optional(),
    /** The MCP endpoint (`/mcp`). */
    mcp: z
      .strictObject({
        /**
         * Browser origins besides the API's own that may call `/mcp`; a request with any
         * other `Origin` is refused 403 (DNS rebinding protection). @defaultValue []
         */
        allowedOrigins: z.array(webOrigin).default([]),
        /** Also accept JWT access tokens from this OAuth 2.1 authorization server (docs/mcp-and-openclaw.md "OAuth for MCP clients"). */
        authorizationServer: mcpAuthorizationServerSchema.optional(),
        /** The token claim naming the agent. @defaultValue "sub" */
        agentClaim: mcpAgentClaimSchema.optional(),
      })
      .refine((mcp) => mcp.agentClaim === undefined || mcp.authorizationServer !== undefined, {
        path: ['agentClaim'],
        message: "agentClaim needs authorizationServer (it names the agent in that server's tokens)",
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    const seenAgents = new Set<string>();
    config.agents.forEach((agent, i) => {
      if (seenAgents.has(agent.id)) {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'id'], message: `duplicate agent id "${agent.id}"` });
      }
      seenAgents.add(agent.id);
      agent.connections?.forEach((entry, j) => {
        // A malformed entry is reported by its own schema; guessing its integration adds a wrong second message.
        if (!agentConnectionSchema.safeParse(entry).success) return;
        const integration = entry.slice(0, entry.indexOf('/'));
        // Own keys only: `in` would accept "constructor/*" (Object.prototype).
        if (!Object.hasOwn(config.integrations, integration)) {
          ctx.addIssue({ code: 'custom', path: ['agents', i, 'connections', j], message: `unknown integration "${integration}"` });
        }
      });
    });
    const seenTools = new Set<string>();
    for (const [name, integration] of Object.entries(config.integrations)) {
      integration.tools.forEach((tool, i) => {
        const path = ['integrations', name, 'tools', i, 'name'];
        if (!tool.name.startsWith(`${name}.`)) {
          ctx.addIssue({ code: 'custom', path, message: `tool names of "${name}" must start with "${name}."` });
        }
        if (seenTools.has(tool.name)) {
          ctx.addIssue({ code: 'custom', path, message: `duplicate tool "${tool.name}"` });
        }
        seenTools.add(tool.name);
        const webhook = tool.async?.webhook;
        if (webhook && !(webhook.source in config.webhooks)) {
          ctx.addIssue({ code: 'custom', path: ['integrations', name, 'tools', i, 'async', 'webhook', 'source'], message: `unknown webhook source "${webhook.source}"` });
        }
        if (webhook && eventTypeList(webhook.event).some((type) => eventTypeList(webhook.failEvent).includes(type))) {
          ctx.addIssue({
            code: 'custom',
            path: ['integrations', name, 'tools', i, 'async', 'webhook', 'failEvent'],
            message: 'an event type cannot both complete and fail the job',
          });
        }
      });
      if (integration.connections && 'default' in integration.connections && integration.connections.default?.auth) {
        ctx.addIssue({
          code: 'custom',
          path: ['integrations', name, 'connections', 'default', 'auth'],
          message: 'the "default" connection always uses the integration\'s own auth',
        });
      }
    }
    config.routes.forEach((route, i) => {
      if (!(route.source in config.webhooks)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'source'], message: `unknown webhook source "${route.source}"` });
      }
    });
    if (config.routes.length > 0 && !config.triggerDelivery) {
      ctx.addIssue({ code: 'custom', path: ['triggerDelivery'], message: 'routes need a triggerDelivery target' });
    }
    if (config.triggerDelivery?.format === 'openclaw' && !config.triggerDelivery.openclaw) {
      ctx.addIssue({ code: 'custom', path: ['triggerDelivery', 'openclaw'], message: 'format "openclaw" needs openclaw.token (the secret holding hooks.token)' });
    }
  });

export type BrokerConfig = z.output<typeof configSchema>;
export type IntegrationConfig = z.output<typeof integrationSchema>;
export type DeclaredTool = z.output<typeof declaredToolSchema>;
export type AuthConfig = z.output<typeof authSchema>;
export type RateWindow = z.output<typeof rateWindow>;
export type AgentConfig = BrokerConfig['agents'][number];
export type WebhookSourceConfig = z.output<typeof webhookSourceSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type TriggerDeliveryConfig = z.output<typeof triggerDeliverySchema>;

/**
 * A named connection of an integration, looked up as an own property only, so
 * a name like `constructor` or `__proto__` can never reach Object.prototype.
 */
export function namedConnection(integration: IntegrationConfig, name: string): NonNullable<IntegrationConfig['connections']>[string] | undefined {
  const connections = integration.connections;
  return connections && Object.hasOwn(connections, name) ? connections[name] : undefined;
}
