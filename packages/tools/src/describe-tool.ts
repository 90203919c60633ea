import { z } from 'zod';
import { toPointer } from '@broker/shared/errors/problem';
import type { ToolDescriptor, ValidationResult } from './types';

/**
 * What a tool written in code is, apart from what it does: its name, what
 * agents read, its zod schemas and the flags the api's guards read. The api
 * builds its catalogue from these alone (`@broker/tools/descriptors`); the
 * worker pairs each with its implementation (`implementTool` in define-tool.ts),
 * which imports it, so the schemas are written once.
 */
export interface ToolDescription<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, N extends string = string> {
  /** `<integration>.<action>`, e.g. `stripe.createCustomer`. */
  name: N;
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
}

/** A description with its name's literal type kept, so implementations can be keyed by it and checked. */
export function describeTool<I extends z.ZodType, O extends z.ZodType, const N extends string>(description: ToolDescription<I, O, N>): ToolDescription<I, O, N> {
  return description;
}

export function zodValidator(schema: z.ZodType): (value: unknown) => ValidationResult {
  return (value) => {
    const result = schema.safeParse(value);
    if (result.success) return { ok: true, value: result.data };
    return {
      ok: false,
      errors: result.error.issues.map((issue) => ({ pointer: toPointer(issue.path), message: issue.message })),
    };
  };
}

/**
 * The descriptor of a tool written in code as a config sets it up: zod schemas
 * exported to agents as JSON Schema, and the file's `apiVersion.value` (when
 * given) over the version the tool is written against.
 */
export function describedTool(description: ToolDescription, configuredApiVersion: string | null): ToolDescriptor {
  return {
    name: description.name,
    integration: description.integration,
    description: description.description,
    idempotent: description.idempotent,
    write: description.write ?? true,
    apiVersion: configuredApiVersion ?? description.apiVersion ?? null,
    inputSchema: z.toJSONSchema(description.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
    outputSchema: z.toJSONSchema(description.output, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>,
    validateInput: zodValidator(description.input),
  };
}
