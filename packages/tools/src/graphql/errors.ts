import type { ToolErrorCode } from '@broker/shared/errors/codes';
import { ToolError } from '../tool-error';
import { throttledRetryAfterMs, type QueryCost } from './cost';

/** One entry of a GraphQL answer's `errors` (GraphQL spec §7.1.2). */
export interface GraphqlError {
  message: string;
  locations?: { line: number; column: number }[];
  path?: (string | number)[];
  extensions?: { code?: unknown; [key: string]: unknown };
}

/**
 * `extensions.code` values, as Shopify, Apollo and GitHub spell them. A code
 * means the same thing whatever the HTTP status (GraphQL answers 200).
 */
const BY_CODE: Record<string, ToolErrorCode> = {
  THROTTLED: 'RATE_LIMITED',
  NOT_FOUND: 'NOT_FOUND',
  RESOURCE_NOT_FOUND: 'NOT_FOUND',
  ACCESS_DENIED: 'PERMISSION_DENIED',
  FORBIDDEN: 'PERMISSION_DENIED',
  UNAUTHENTICATED: 'AUTHENTICATION_FAILED',
  GRAPHQL_PARSE_FAILED: 'VALIDATION_ERROR',
  GRAPHQL_VALIDATION_FAILED: 'VALIDATION_ERROR',
  BAD_USER_INPUT: 'VALIDATION_ERROR',
  BAD_REQUEST: 'VALIDATION_ERROR',
  // Shopify: a single query costlier than the whole bucket can never run.
  MAX_COST_EXCEEDED: 'VALIDATION_ERROR',
  // Shopify reports static validation failures with camelCase codes.
  argumentLiteralsIncompatible: 'VALIDATION_ERROR',
  argumentNotAccepted: 'VALIDATION_ERROR',
  undefinedField: 'VALIDATION_ERROR',
  undefinedType: 'VALIDATION_ERROR',
  missingRequiredArguments: 'VALIDATION_ERROR',
  missingRequiredInputObjectAttribute: 'VALIDATION_ERROR',
  variableMismatch: 'VALIDATION_ERROR',
  variableNotUsed: 'VALIDATION_ERROR',
  selectionMismatch: 'VALIDATION_ERROR',
  parseError: 'VALIDATION_ERROR',
};

/** Worst first: a throttle must win, since it is the one error trying again fixes. */
const PRECEDENCE: ToolErrorCode[] = ['RATE_LIMITED', 'AUTHENTICATION_FAILED', 'PERMISSION_DENIED', 'VALIDATION_ERROR', 'NOT_FOUND', 'UPSTREAM_ERROR', 'UNKNOWN'];

function codeOf(error: GraphqlError, write: boolean): ToolErrorCode {
  const code = typeof error.extensions?.code === 'string' ? error.extensions.code : undefined;
  if (code && BY_CODE[code]) return BY_CODE[code];
  // Shopify answers INTERNAL_SERVER_ERROR instead of a 500: a read may be tried
  // again; a mutation may have taken effect, so it is not.
  if (code === 'INTERNAL_SERVER_ERROR') return write ? 'UNKNOWN' : 'UPSTREAM_ERROR';
  // Request errors (parse, validation) come before execution: they point at
  // the document (`locations`) but at no field of a result (`path`).
  if (!code && error.locations && !error.path) return 'VALIDATION_ERROR';
  return 'UNKNOWN';
}

const MESSAGE_LIMIT = 300;

/**
 * Maps a GraphQL answer's `errors` to one tool error: the most actionable
 * code among them, every message kept (truncated). A THROTTLED answer carries
 * the wait the cost bucket needs as `retryAfterMs`, so the worker pauses the
 * integration and defers the job exactly as for a 429 with `Retry-After`.
 */
export function toolErrorFromGraphql(errors: GraphqlError[], cost: QueryCost | undefined, write: boolean): ToolError {
  const codes = errors.map((e) => codeOf(e, write));
  const code = PRECEDENCE.find((c) => codes.includes(c)) ?? 'UNKNOWN';
  const text = errors
    .map((e) => {
      const ext = typeof e.extensions?.code === 'string' ? ` (${e.extensions.code})` : '';
      const where = e.path ? ` at ${e.path.join('.')}` : '';
      return `${String(e.message)}${ext}${where}`;
    })
    .join('; ');
  const message = `graphql error: ${text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}…` : text}`;
  if (code === 'RATE_LIMITED') return new ToolError(code, { message, retryable: true, retryAfterMs: throttledRetryAfterMs(cost) });
  return new ToolError(code, { message, ...(code === 'UPSTREAM_ERROR' ? { retryable: true } : { retryable: false }) });
}
