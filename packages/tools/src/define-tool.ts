import { z } from 'zod';
import { toPointer } from '@broker/shared';
import type { RunnableTool, ToolContext, ValidationResult } from './types';

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
  run(input: z.output<I>, ctx: ToolContext): Promise<z.input<O>>;
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
  return (apiVersion: string | null): RunnableTool => ({
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
    run: (input, ctx) => definition.run(input as z.output<I>, ctx),
  });
}

export type BuiltinTool = ReturnType<typeof defineTool>;
