import { z } from 'zod';

/*
 * `reference` and `verify` of a declared tool (docs/configuration.md#writes-without-an-idempotency-key-reference-and-verify;
 * "No write is applied twice" in docs/api.md#guarantees). An upstream that takes no idempotency key cannot
 * dedupe a resend, so a write whose earlier try may have reached it is not
 * sent blind: every try carries the job id (`reference`), and before a resend
 * the worker looks up (`verify`) whether a try with that id took effect.
 */

/** RFC 6901: "" (the whole answer) or `/`-separated tokens where `~` appears only as `~0` or `~1`. */
export const JSON_POINTER_PATTERN = /^(?:\/(?:[^~/]|~[01])*)*$/;

export const jsonPointerSchema = z.string().max(200).regex(JSON_POINTER_PATTERN, 'must be a JSON pointer (RFC 6901) such as "/data/0", or "" for the whole answer');

/** RFC 9110 field-name (a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const referenceSchema = z
  .strictObject({
    in: z.enum(['body', 'query', 'header']),
    /** A top-level field of the JSON body, a query parameter, or a request header. */
    name: z.string().min(1).max(100),
  })
  .refine((ref) => ref.in !== 'header' || HEADER_NAME.test(ref.name), {
    message: "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)",
    path: ['name'],
  });

export const verifySchema = z.strictObject({
  /** The lookup must not change anything upstream. @defaultValue "GET" */
  method: z.literal('GET', { error: 'must be "GET": the lookup must not change anything upstream' }).default('GET'),
  /** Below the integration's baseUrl; `{reference}` (the job id) and the input's `{param}`s are filled in. */
  path: z.string().startsWith('/'),
  /** Query parameters; string values may hold `{reference}` and `{param}`s. */
  query: z.record(z.string().min(1), z.union([z.string().max(500), z.number(), z.boolean()])).optional(),
  /**
   * Where the earlier try's effect is in the answer: present (not null, not an
   * empty array) means found, and that value is the tool's output.
   */
  found: jsonPointerSchema,
});

export type ReferenceConfig = z.output<typeof referenceSchema>;
export type VerifyConfig = z.output<typeof verifySchema>;

/** Same placeholder syntax as a declared tool's `path` (tools' fill-path.ts). */
const PLACEHOLDER = /\{([^}/]+)\}/g;

/** The placeholder that stands for the job id in a lookup. */
export const REFERENCE_PLACEHOLDER = 'reference';

function placeholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((match) => match[1]!);
}

/** The properties an input JSON Schema declares at the top level. */
function inputProperties(input: Record<string, unknown>): Set<string> {
  const properties = input.properties;
  return new Set(properties !== null && typeof properties === 'object' ? Object.keys(properties) : []);
}

/** The fields of a declared tool that the rules below read (structural, so schema.ts imports this file and not the reverse). */
export interface WriteLookupFields {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  idempotent: boolean;
  input: Record<string, unknown>;
  async?: unknown;
  reference?: ReferenceConfig | undefined;
  verify?: VerifyConfig | undefined;
}

type Issue = { path: PropertyKey[]; message: string };

/**
 * The rules that span fields of one declared tool: `reference` and `verify`
 * are for a write without an idempotency key, and `verify` must be able to
 * find what `reference` put upstream. Paths are relative to the tool.
 */
export function writeLookupIssues(tool: WriteLookupFields): Issue[] {
  const { reference, verify } = tool;
  if (!reference && !verify) return [];
  const issues: Issue[] = [];
  const present = (['reference', 'verify'] as const).filter((field) => tool[field] !== undefined);
  if (tool.method === 'GET') {
    for (const field of present) {
      issues.push({
        path: [field],
        message: 'a GET tool changes nothing upstream, so there is no earlier effect to look up: reference and verify are for writes without an idempotency key',
      });
    }
    return issues;
  }
  if (tool.idempotent) {
    for (const field of present) {
      issues.push({
        path: [field],
        message:
          'this tool is idempotent: every try resends the same idempotency key and the upstream applies it once, so reference and verify would never be used (remove them, or set idempotent: false)',
      });
    }
    return issues;
  }
  if (verify && !reference) {
    issues.push({ path: ['verify'], message: 'verify needs reference: the lookup finds an earlier try by the job id that reference makes every try carry' });
  }
  if (verify && tool.async !== undefined) {
    issues.push({
      path: ['verify'],
      message: 'verify cannot be combined with async: what an earlier try started may still be running upstream, so finding it does not give the output',
    });
  }
  const declared = inputProperties(tool.input);
  if (reference) {
    const inputGoesTo = tool.method === 'DELETE' ? 'query' : 'body';
    if (reference.in === 'body' && tool.method === 'DELETE') {
      issues.push({ path: ['reference', 'in'], message: 'a DELETE tool sends its input as the query string, with no body: use "query" or "header"' });
    } else if (reference.in === inputGoesTo && declared.has(reference.name)) {
      issues.push({
        path: ['reference', 'name'],
        message: `the input schema declares "${reference.name}" too, and the job id would overwrite the agent's value: rename one of them`,
      });
    }
  }
  if (verify) {
    const unknown = (text: string) => placeholders(text).filter((name) => name !== REFERENCE_PLACEHOLDER && !declared.has(name));
    for (const name of unknown(verify.path)) {
      issues.push({ path: ['verify', 'path'], message: `{${name}} is neither {reference} nor a property of the input schema` });
    }
    for (const [key, value] of Object.entries(verify.query ?? {})) {
      if (typeof value !== 'string') continue;
      for (const name of unknown(value)) {
        issues.push({ path: ['verify', 'query', key], message: `{${name}} is neither {reference} nor a property of the input schema` });
      }
    }
  }
  return issues;
}
