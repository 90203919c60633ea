import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { publicJobSchema } from '@broker/shared/jobs/schema';
import { toolSummarySchema } from '@broker/shared/tools/tool-list';

/*
 * MCP `outputSchema`s. MCP wants an object schema, and the SDK client validates
 * `structuredContent` against it on every result that has one, tool errors
 * included (sdk 1.32 `Client.callTool`). So every answer of a tool is one
 * envelope, and its schema allows each shape the tool can answer:
 *   { result, job }  a broker tool's job succeeded: its output, and the job without it;
 *   { job }          the job is still queued/running/deferred/awaiting_approval, or get_job/retry_job;
 *   { error, job? }  a tool error (isError): job.error, or a refusal when no job exists;
 *   { tools }        list_tools.
 */

type JsonSchema = Record<string, unknown>;

/** Draft-07: the dialect of the SDK client's Ajv (and of the schemas declared in the config file). */
const asJsonSchema = (schema: z.ZodType): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-07', io: 'output', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** `structuredContent.error`: the job's `{code, message, retryable, retryAt?}`, or why the call was refused. */
export const ERROR_OUTPUT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'message', 'retryable'],
  properties: {
    code: { type: 'string', description: 'A tool error code (job.error.code), or the API error code of a refused call' },
    message: { type: 'string' },
    retryable: { type: 'boolean', description: 'Trying again may succeed: retry_job a failed job, or call again a refused call' },
    retryAt: { type: 'string', description: 'ISO 8601: not before this time' },
    upstreamStatus: { type: 'integer' },
    errors: {
      type: 'array',
      description: 'What is wrong with the call, by JSON pointer (e.g. /input/qty)',
      items: { type: 'object', required: ['pointer', 'message'], properties: { pointer: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

/** The job as `GET /v1/jobs/{id}` answers it. */
export const JOB_OUTPUT_SCHEMA: JsonSchema = { ...asJsonSchema(publicJobSchema), description: 'The job, as GET /v1/jobs/{id} answers it' };

const LIST_TOOLS_ITEM = asJsonSchema(toolSummarySchema.extend({ mcpName: z.string() }));

/** Values that are data, not schemas: a `$ref` string in them is left alone. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples', 'example']);

/**
 * A schema moved from the root of its document to `properties.result` of the
 * envelope: its local references (`#`, `#/$defs/…`, `#/properties/…`) would
 * resolve against the envelope, so each gets the new location as a prefix.
 * `$schema` and `$id` are dropped: the envelope is one draft-07 document
 * (and an `$id` compiled twice by one Ajv, e.g. on a second tools/list, throws).
 */
function relocate(node: unknown, at: string): unknown {
  if (Array.isArray(node)) return node.map((item) => relocate(item, at));
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === '$id') continue;
    // `#` and `#/…` are locations in the document; anything else (`#name`, a URI) is not moved by moving the schema.
    if (key === '$ref' && typeof value === 'string' && (value === '#' || value.startsWith('#/'))) out[key] = `#${at}${value.slice(1)}`;
    else out[key] = DATA_KEYWORDS.has(key) ? value : relocate(value, at);
  }
  return out;
}

/**
 * Keywords that only 2019-09 and 2020-12 know, or that draft-07 reads
 * otherwise (`items: false` beside `prefixItems` means "no items" to it).
 * A declared output schema may use them (it is validated in the dialect its
 * `$schema` names), but the envelope is read by the SDK client's draft-07
 * Ajv, which would refuse valid results or fail to compile the whole tool
 * list; such a result is described, not constrained.
 */
const NEWER_DIALECT_KEYWORDS = new Set([
  'prefixItems',
  'unevaluatedItems',
  'unevaluatedProperties',
  'dependentRequired',
  'dependentSchemas',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$recursiveRef',
  '$recursiveAnchor',
  'contentSchema',
]);

function usesNewerDialect(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(usesNewerDialect);
  if (node === null || typeof node !== 'object') return false;
  return Object.entries(node).some(([key, value]) => NEWER_DIALECT_KEYWORDS.has(key) || (!DATA_KEYWORDS.has(key) && usesNewerDialect(value)));
}

/**
 * The `outputSchema` of a broker tool: the envelope, with the tool's own output
 * schema (whatever its type: an object, an array, `{}`) under `result`.
 */
export function brokerToolOutputSchema(toolOutputSchema: JsonSchema): Tool['outputSchema'] {
  const result = usesNewerDialect(toolOutputSchema) ? {} : (relocate(toolOutputSchema, '/properties/result') as JsonSchema);
  return {
    type: 'object',
    properties: {
      result: { ...result, description: withDescription(result.description, 'The tool output (the job result), present when the job succeeded') },
      job: JOB_OUTPUT_SCHEMA,
      error: ERROR_OUTPUT_SCHEMA,
    },
    additionalProperties: false,
  };
}

const withDescription = (own: unknown, fallback: string) => (typeof own === 'string' && own.length > 0 ? own : fallback);

/** get_job and retry_job: `{job}`, or `{error}`. */
export const JOB_TOOL_OUTPUT_SCHEMA: Tool['outputSchema'] = {
  type: 'object',
  properties: { job: JOB_OUTPUT_SCHEMA, error: ERROR_OUTPUT_SCHEMA },
  additionalProperties: false,
};

/** list_tools: `{tools}`, or `{error}`. */
export const LIST_TOOLS_OUTPUT_SCHEMA: Tool['outputSchema'] = {
  type: 'object',
  properties: { tools: { type: 'array', items: LIST_TOOLS_ITEM }, error: ERROR_OUTPUT_SCHEMA },
  additionalProperties: false,
};
