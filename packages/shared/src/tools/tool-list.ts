import { z } from 'zod';

/** One entry of `GET /v1/tools` (docs/api.md#the-agent-api): what an agent needs to call a tool, JSON Schemas included. */
export const toolSummarySchema = z.object({
  /** `<integration>.<action>`, e.g. `demo.getContact`. */
  name: z.string(),
  description: z.string(),
  integration: z.string(),
  apiVersion: z.string().nullable(),
  /** Every attempt sends the same upstream idempotency key, so a retry cannot act twice. */
  idempotent: z.boolean(),
  inputSchema: z.record(z.string(), z.unknown()).describe('JSON Schema of `input`'),
  outputSchema: z.record(z.string(), z.unknown()).describe('JSON Schema of the job `result`'),
});
export type ToolSummary = z.infer<typeof toolSummarySchema>;

/** `GET /v1/tools`: only the tools the key's scopes allow. */
export const toolListSchema = z.object({ tools: z.array(toolSummarySchema) });
export type ToolList = z.infer<typeof toolListSchema>;
