/*
 * The broker's wire types (docs/api.md), written out here so the client needs
 * no other package. They mirror the zod schemas in @broker/shared, which
 * generate /openapi.json; test/surface/client.test.ts checks them against a
 * running API.
 */

export type JobStatus = 'queued' | 'running' | 'deferred' | 'awaiting_approval' | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export type ToolErrorCode =
  | 'VALIDATION_ERROR'
  | 'NOT_FOUND'
  | 'AUTHENTICATION_FAILED'
  | 'PERMISSION_DENIED'
  | 'RATE_LIMITED'
  | 'CONFLICT'
  | 'UPSTREAM_ERROR'
  | 'TIMEOUT'
  | 'CIRCUIT_OPEN'
  | 'SCHEMA_MISMATCH'
  | 'OUTCOME_UNKNOWN'
  | 'APPROVAL_DENIED'
  | 'APPROVAL_EXPIRED'
  | 'UNKNOWN';

/** Why a job failed, or why its last try did (while it waits for the next). */
export interface JobError {
  code: ToolErrorCode;
  message: string;
  /** Trying the same call again later may succeed. */
  retryable: boolean;
  upstreamStatus?: number;
  /** ISO 8601: when the next retry is planned, or when trying again may succeed. */
  retryAt?: string;
}

export interface Job<Result = unknown> {
  id: string;
  tool: string;
  status: JobStatus;
  attempts: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress?: unknown;
  result?: Result;
  error?: JobError;
}

export interface Tool {
  name: string;
  description: string;
  integration: string;
  apiVersion: string | null;
  idempotent: boolean;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
}

export interface FieldError {
  /** RFC 6901 JSON Pointer into the request body, e.g. `/input/qty`. */
  pointer: string;
  message: string;
}

/** RFC 9457 problem details with the broker's `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
}
