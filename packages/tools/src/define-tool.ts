import type { z } from 'zod';
import type { Pending, StatusCheck } from './async/pending';
import { describedTool, describeTool, zodValidator, type ToolDescription } from './describe-tool';
import type { EarlierEffect, RunnableTool, ToolContext } from './types';

/** What a built-in tool knows about how it was configured. */
export interface ToolRunMeta {
  /** The pinned version, or the file's `apiVersion.value` when it overrides it. */
  apiVersion: string | null;
}

/** What a tool written in code does: the worker's half, typed by its description's schemas. */
export interface ToolHandlers<I extends z.ZodType, O extends z.ZodType> {
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

/** A tool written in code all at once: description and handlers (generated tools, your own). */
export interface ToolDefinition<I extends z.ZodType, O extends z.ZodType> extends ToolDescription<I, O>, ToolHandlers<I, O> {}

/** The configured tool: `(the file's apiVersion.value, or null) => RunnableTool`. */
export type BuiltinTool = (configured: string | null) => RunnableTool;

/** A description paired with what does it: the worker makes a BuiltinTool of it (`toBuiltinTool`). */
export interface ToolImplementation<D extends ToolDescription = ToolDescription> {
  readonly description: D;
  readonly handlers: ToolHandlers<z.ZodType, z.ZodType>;
}

/**
 * The implementation of a described tool: `run` (and `verify`, `checkStatus`,
 * `resultFromEvent`) typed by the description's schemas, which it does not
 * restate.
 */
export function implementTool<I extends z.ZodType, O extends z.ZodType, N extends string>(
  description: ToolDescription<I, O, N>,
  handlers: ToolHandlers<I, O>,
): ToolImplementation<ToolDescription<I, O, N>> {
  return { description, handlers };
}

/** What the worker runs: the described tool, its output checked by the same schema, calling the handlers. */
export function toBuiltinTool({ description, handlers }: ToolImplementation): BuiltinTool {
  return (configured) => {
    const descriptor = describedTool(description, configured);
    const meta: ToolRunMeta = { apiVersion: descriptor.apiVersion };
    return {
      ...descriptor,
      validateOutput: zodValidator(description.output),
      run: (input, ctx) => handlers.run(input, ctx, meta),
      ...(handlers.verify ? { verify: (input: unknown, ctx: ToolContext) => handlers.verify!(input, ctx, meta) } : {}),
      ...(handlers.checkStatus ? { checkStatus: (reference: string, input: unknown, ctx: ToolContext) => handlers.checkStatus!(reference, input, ctx, meta) } : {}),
      ...(handlers.resultFromEvent ? { resultFromEvent: (value: unknown, input: unknown) => handlers.resultFromEvent!(value, input) } : {}),
    };
  };
}

/**
 * Pairs an integration's descriptions with their implementations, keyed
 * alike: the compiler refuses a description left without an implementation,
 * an implementation without a description, or one of another tool (its name
 * is part of its type). The order is the descriptions'.
 */
export function pairTools<D extends Record<string, ToolDescription>>(descriptions: D, implementations: { readonly [K in keyof D]: ToolImplementation<D[K]> }): BuiltinTool[] {
  return Object.entries(descriptions).map(([key, description]) => {
    const implementation = implementations[key]!;
    if (implementation.description !== description) {
      throw new Error(`the implementation of ${description.name} was made for ${implementation.description.name}`);
    }
    return toBuiltinTool(implementation);
  });
}

/** A tool written in code, description and handlers at once. */
export function defineTool<I extends z.ZodType, O extends z.ZodType>(definition: ToolDefinition<I, O>): BuiltinTool {
  const { run, verify, checkStatus, resultFromEvent, ...description } = definition;
  return toBuiltinTool(
    implementTool(describeTool(description), {
      run,
      ...(verify ? { verify } : {}),
      ...(checkStatus ? { checkStatus } : {}),
      ...(resultFromEvent ? { resultFromEvent } : {}),
    }),
  );
}
