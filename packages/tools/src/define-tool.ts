import { z } from 'zod';
import { toPointer } from '@broker/shared';
import type { Pending, StatusCheck } from './async/pending';
import type { EarlierEffect, RunnableTool, ToolContext, ValidationResult } from './types';

/** What a built-in tool knows about how it was configured. */
export interface ToolRunMeta {
  /** The pinned version, or the file's `apiVersion.value` when it overrides it. */
  apiVersion: string | null;
}

export interface ToolDefinition<I extends z.ZodType, O extends z.ZodType> {
  /** `<integration>.<action>`, e.g. `stripe.createCustomer`. */
  name: string;
  integration: string;
  description: string;
  input: I;
  output: O;
  /** Every attempt sends the job's idempotency key upstream, so retries are safe. */
  idempotent: boolean;
  /** Changes state upstream. @defaultValue true */
  write?: boolean;
  /**
   * The upstream API version the tool is written against (its wire format).
   * The config file's `apiVersion.value` overrides it. @defaultValue none
   */
  apiVersion?: string;
  /** The output, or `pending(reference, …)` when the upstream finishes the work later. */
  run(input: z.output<I>, ctx: ToolContext, meta: ToolRunMeta): Promise<z.input<O> | Pending>;
  /**
   * For a write without an idempotency key (`idempotent: false`): `run` puts
   * the job's reference (`ctx.jobId`) into what it sends, and this looks up
   * the effect of an earlier try by it — found (with the output), cleanly
   * absent, or throws when it cannot tell (see EarlierEffect).
   */
  verify?(input: z.output<I>, ctx: ToolContext, meta: ToolRunMeta): Promise<EarlierEffect<z.input<O>>>;
  /** For a tool whose `run` returns `pending(…, { poll })`: has the operation behind `reference` finished? */
  checkStatus?(reference: string, input: z.output<I>, ctx: ToolContext, meta: ToolRunMeta): Promise<StatusCheck<z.input<O>>>;
  /** For a tool whose `run` returns `pending(…, { webhook })`: the output made of what the completing event holds. */
  resultFromEvent?(value: unknown, input: z.output<I>): z.input<O>;
}

function zodValidator(schema: z.ZodType): (value: unknown) => ValidationResult {
  return (value) => {
    const result = schema.safeParse(value);
    if (result.success) return { ok: true, value: result.data };
    return {
      ok: false,
      errors: result.error.issues.map((issue) => ({ pointer: toPointer(issue.path), message: issue.message })),
    };
  };
}

/** A tool written in code: zod schemas, exported to agents as JSON Schema. */
export function defineTool<I extends z.ZodType, O extends z.ZodType>(definition: ToolDefinition<I, O>) {
  return (configured: string | null): RunnableTool => {
    const apiVersion = configured ?? definition.apiVersion ?? null;
    return {
      name: definition.name,
      integration: definition.integration,
      description: definition.description,
      idempotent: definition.idempotent,
      write: definition.write ?? true,
      apiVersion,
      inputSchema: z.toJSONSchema(definition.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
      outputSchema: z.toJSONSchema(definition.output, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>,
      validateInput: zodValidator(definition.input),
      validateOutput: zodValidator(definition.output),
      run: (input, ctx) => definition.run(input as z.output<I>, ctx, { apiVersion }),
      ...(definition.verify ? { verify: (input: unknown, ctx: ToolContext) => definition.verify!(input as z.output<I>, ctx, { apiVersion }) } : {}),
      ...(definition.checkStatus
        ? { checkStatus: (reference: string, input: unknown, ctx: ToolContext) => definition.checkStatus!(reference, input as z.output<I>, ctx, { apiVersion }) }
        : {}),
      ...(definition.resultFromEvent ? { resultFromEvent: (value: unknown, input: unknown) => definition.resultFromEvent!(value, input as z.output<I>) } : {}),
    };
  };
}

export type BuiltinTool = ReturnType<typeof defineTool>;
