import { z } from 'zod';
import { API_ERROR_CODES, type ApiErrorCode } from './codes';

/** One field-level problem; `pointer` is an RFC 6901 JSON Pointer into the request body. */
export interface FieldError {
  pointer: string;
  message: string;
}

/** RFC 9457 problem details with the broker's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ApiErrorCode;
  errors?: FieldError[];
}

const apiErrorCodes = Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]];

/** {@link FieldError} as a schema, for the OpenAPI document and typed clients. */
export const fieldErrorSchema = z.object({
  pointer: z.string().describe('RFC 6901 JSON Pointer into the request body, e.g. /input/qty'),
  message: z.string(),
});

/** {@link Problem} as a schema: the OpenAPI document is generated from it, so it cannot drift from the type. */
export const problemSchema: z.ZodType<Problem> = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int().min(400).max(599),
  detail: z.string(),
  code: z.enum(apiErrorCodes),
  errors: z.array(fieldErrorSchema).optional(),
});

const TITLES: Record<ApiErrorCode, string> = {
  UNAUTHENTICATED: 'Unauthenticated',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  TOOL_NOT_FOUND: 'Tool not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  CONFLICT: 'Conflict',
  REQUEST_TIMEOUT: 'Request timeout',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  INVALID_JSON: 'Malformed JSON',
  INVALID_IDEMPOTENCY_KEY: 'Invalid idempotency key',
  INVALID_SIGNATURE: 'Invalid signature',
  BAD_REQUEST: 'Bad request',
  VALIDATION_ERROR: 'Validation failed',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  RATE_LIMITED: 'Too many requests',
  BUDGET_EXCEEDED: 'Spend cap reached',
  HEADERS_TOO_LARGE: 'Request header fields too large',
  INTERNAL: 'Internal error',
  UNAVAILABLE: 'Service unavailable',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Builds a problem body; `type` is a stable URN per code so clients can switch on it. */
export function problem(code: ApiErrorCode, detail: string, errors?: FieldError[]): Problem {
  const body: Problem = {
    type: `urn:broker:error:${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code],
    status: API_ERROR_CODES[code],
    detail,
    code,
  };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}

/** An error the API turns into a problem response as it is. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly problem: Problem;
  constructor(
    code: ApiErrorCode,
    detail: string,
    errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.problem = problem(code, detail, errors);
  }
}

/** `["input","qty"]` → `/input/qty` (RFC 6901 escaping). */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}
