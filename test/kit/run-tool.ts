import { randomUUID } from 'node:crypto';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import { createIntegrationClients, createToolRegistry, ToolError, type BuiltinTool, type EarlierEffect, type RunnableTool, type ToolContext } from '@broker/tools';
import { testLogger } from '../helpers/broker';

/** The secrets the kit's stubs accept by default, under the names the example configs use. */
export const KIT_SECRETS: Record<string, string> = {
  STRIPE_SECRET_KEY: 'sk_test_kit',
  HUBSPOT_TOKEN: 'pat-kit-token',
  SHOPIFY_ADMIN_TOKEN: 'shpat_kit',
  GITHUB_TOKEN: 'ghp_kit',
};

/**
 * The config section of each built-in integration, in its native auth form,
 * as a user writes it (see docs/integrations.md, "Built-in integrations").
 */
export function builtinIntegrationConfig(name: 'stripe' | 'hubspot' | 'shopify' | 'github', baseUrl: string, extra: Record<string, unknown> = {}) {
  const auth = {
    stripe: { type: 'apiKey', prefix: 'Bearer ', secret: 'STRIPE_SECRET_KEY' },
    hubspot: { type: 'apiKey', prefix: 'Bearer ', secret: 'HUBSPOT_TOKEN' },
    shopify: { type: 'apiKey', header: 'X-Shopify-Access-Token', secret: 'SHOPIFY_ADMIN_TOKEN' },
    github: { type: 'apiKey', prefix: 'Bearer ', secret: 'GITHUB_TOKEN' },
  }[name];
  return { baseUrl, auth, ...extra };
}

export interface RunToolOptions {
  /** A parsed config, or the raw `integrations` section to parse. */
  config: BrokerConfig | { integrations: Record<string, unknown> };
  tool: string;
  input: unknown;
  secrets?: Record<string, string>;
  connection?: string;
  /** The job's idempotency key. @defaultValue a new one per call, as for a new job */
  idempotencyKey?: string;
  /** Receives every `reportProgress` call. */
  progress?: unknown[];
  /** Receives every `pauseIntegration` call. */
  pauses?: { ms: number; reason: string }[];
  logger?: Logger;
  /** Tools written in code, by integration, instead of the built-in ones (e.g. your own or generated tools). */
  builtins?: Record<string, readonly BuiltinTool[]>;
  /** The job's id: the reference an unkeyed write carries upstream (see `verifyTool`). @defaultValue "job_kit" */
  jobId?: string;
  /** When the job was submitted (epoch ms). @defaultValue now */
  submittedAt?: number;
}

interface PreparedCall {
  tool: RunnableTool;
  input: unknown;
  ctx: ToolContext;
}

/** The tool, its validated input and a context like the worker's, for one call. */
function prepareCall(options: RunToolOptions): PreparedCall {
  const config = 'agents' in options.config ? (options.config as BrokerConfig) : parseConfig(options.config);
  const registry = options.builtins ? createToolRegistry(config, options.builtins) : createToolRegistry(config);
  const tool: RunnableTool | undefined = registry.get(options.tool);
  if (!tool) throw new Error(`tool ${options.tool} is not configured`);
  const logger = options.logger ?? testLogger('kit');
  const client = createIntegrationClients(config, envSecretsProvider({ ...KIT_SECRETS, ...options.secrets }), logger).get(tool.integration)!;
  const input = tool.validateInput(options.input);
  if (!input.ok) throw new ToolError('VALIDATION_ERROR', { message: `input: ${input.errors.map((e) => `${e.pointer} ${e.message}`).join('; ')}` });
  const key = options.idempotencyKey ?? `job_kit_${randomUUID()}`;
  const connection = options.connection ?? 'default';
  const jobId = options.jobId ?? 'job_kit';
  const controller = new AbortController();
  const ctx: ToolContext = {
    jobId,
    submittedAt: options.submittedAt ?? Date.now(),
    attempt: 1,
    connection,
    idempotencyKey: key,
    logger,
    signal: controller.signal,
    http: client.forCall({
      tool: tool.name,
      jobId,
      attempt: 1,
      connection,
      write: tool.write,
      requestId: 'kit-request',
      signal: controller.signal,
      ...(tool.idempotent ? { idempotencyKey: key } : {}),
    }),
    reportProgress: async (p) => {
      options.progress?.push(p);
    },
    pauseIntegration: async (ms, reason) => {
      options.pauses?.push({ ms, reason });
    },
  };
  return { tool, input: input.value, ctx };
}

function checkedOutput(tool: RunnableTool, output: unknown): unknown {
  const checked = tool.validateOutput(output);
  if (!checked.ok) throw new ToolError('SCHEMA_MISMATCH', { message: checked.errors.map((e) => `${e.pointer} ${e.message}`).join('; ') });
  return checked.value;
}

/**
 * Runs one tool the way the worker does — input validated, one HTTP client
 * per integration (auth, version, idempotency key, classification), output
 * validated — without Redis or queues: for unit-style tests of a tool against
 * a stub. Failures are thrown as the ToolError the job would record.
 */
export async function runTool(options: RunToolOptions): Promise<unknown> {
  const { tool, input, ctx } = prepareCall(options);
  return checkedOutput(tool, await tool.run(input, ctx));
}

/**
 * Looks up what an earlier try of a job (`jobId`) did, the way the worker does
 * before it sends an unkeyed write again: the tool's `verify`, its found
 * output validated like a run's. Throws when the tool has no `verify`, or as
 * the lookup throws (the worker then ends the job OUTCOME_UNKNOWN).
 */
export async function verifyTool(options: RunToolOptions): Promise<EarlierEffect> {
  const { tool, input, ctx } = prepareCall(options);
  if (!tool.verify) throw new Error(`tool ${options.tool} has no verify`);
  const effect = await tool.verify(input, ctx);
  return effect.found ? { found: true, output: checkedOutput(tool, effect.output) } : effect;
}
