import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { JsonSchemaType, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';

/**
 * The SDK's MCP client with its own output validation (the default Ajv
 * validator, which `Client.callTool` runs on `structuredContent` of every tool
 * that declared an `outputSchema`, tool errors included), counted: a test can
 * tell that each answer was validated, not merely that nothing threw.
 */
export interface ValidatingClient {
  client: Client;
  /** One entry per structuredContent the client validated, in order. */
  validations: Array<{ valid: boolean; errorMessage?: string | undefined }>;
  /** Calls a tool; a listed one's answer must have passed the client's validation (an unlisted one has none to pass). */
  call(name: string, args: Record<string, unknown>, meta?: Record<string, unknown>): Promise<CallToolResult>;
}

export async function connectValidating(mcpUrl: string, key: string): Promise<ValidatingClient> {
  const ajv = new AjvJsonSchemaValidator();
  const validations: ValidatingClient['validations'] = [];
  const counting: jsonSchemaValidator = {
    getValidator<T>(schema: JsonSchemaType) {
      const validate = ajv.getValidator<T>(schema);
      return (input: unknown) => {
        const outcome = validate(input);
        validations.push({ valid: outcome.valid, errorMessage: outcome.errorMessage });
        return outcome;
      };
    },
  };
  const client = new Client({ name: 'broker-test', version: '1.0.0' }, { jsonSchemaValidator: counting });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  // The client validates only the tools it has listed (Client.cacheToolMetadata).
  const listed = new Set((await client.listTools()).tools.map((t) => t.name));
  return {
    client,
    validations,
    async call(name, args, meta) {
      const before = validations.length;
      const result = (await client.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) })) as CallToolResult;
      expect(validations.slice(before)).toEqual(listed.has(name) ? [{ valid: true, errorMessage: undefined }] : []);
      return result;
    },
  };
}

/** The JSON an MCP answer's text ends with (the last line: the structuredContent, for clients that only read text). */
export const lastJsonLine = (result: CallToolResult): unknown => JSON.parse((result.content[0] as { text: string }).text.split('\n').at(-1)!);
