/**
 * Error codes an agent can reason about (docs/api.md#api-error-codes, docs/api.md#tool-error-codes-in-joberrorcode). Each code says whether
 * trying the same call again later may succeed, and which HTTP status the API
 * uses when the code describes a request the API itself refuses.
 */
export const TOOL_ERROR_CODES = {
  VALIDATION_ERROR: { retryable: false },
  NOT_FOUND: { retryable: false },
  AUTHENTICATION_FAILED: { retryable: false },
  PERMISSION_DENIED: { retryable: false },
  RATE_LIMITED: { retryable: true },
  CONFLICT: { retryable: false },
  UPSTREAM_ERROR: { retryable: true },
  TIMEOUT: { retryable: true },
  CIRCUIT_OPEN: { retryable: true },
  SCHEMA_MISMATCH: { retryable: false },
  OUTCOME_UNKNOWN: { retryable: false },
  /** An operator denied the job held for approval; no upstream call was made. */
  APPROVAL_DENIED: { retryable: false },
  /** Nobody decided on the held job within its rule's timeout; no upstream call was made. */
  APPROVAL_EXPIRED: { retryable: false },
  UNKNOWN: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ToolErrorCode = keyof typeof TOOL_ERROR_CODES;

export const toolErrorCodes = Object.keys(TOOL_ERROR_CODES) as ToolErrorCode[];

/** Codes of the broker's own HTTP API, with the status each is answered with. */
export const API_ERROR_CODES = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_JSON: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  INVALID_SIGNATURE: 400,
  BAD_REQUEST: 400,
  VALIDATION_ERROR: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  /** A spend cap (agents[].spendCaps) would be exceeded by this job today. */
  BUDGET_EXCEEDED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;
