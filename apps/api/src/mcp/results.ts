import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TERMINAL_STATUSES, type FieldError, type JobError, type Problem, type PublicJob } from '@broker/shared';

/**
 * What an MCP tool error carries in `structuredContent` (and, as JSON, in its
 * text): the same `code`/`retryable`/`retryAt` an agent reads in `job.error`
 * over REST, plus `jobId` when a job exists and `errors` for bad input.
 */
export interface McpToolError {
  code: string;
  message: string;
  retryable: boolean;
  retryAt?: string;
  upstreamStatus?: number;
  errors?: FieldError[];
  jobId?: string;
}

const asObject = (value: object): Record<string, unknown> => ({ ...value });

export function toolError(error: McpToolError): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(error) }], structuredContent: asObject(error) };
}

/** API refusals worth trying again later (Redis away; rate limited). */
const RETRYABLE_STATUSES = new Set([429, 503]);

/** A refused request (validation, unknown tool, Redis away…) as a tool error; `Retry-After` becomes `retryAt`. */
export function problemResult(problem: Problem, headers: Record<string, string> = {}): CallToolResult {
  const error: McpToolError = { code: problem.code, message: problem.detail, retryable: RETRYABLE_STATUSES.has(problem.status) };
  const retryAfter = Number(headers['Retry-After']);
  if (error.retryable && Number.isFinite(retryAfter)) error.retryAt = new Date(Date.now() + retryAfter * 1000).toISOString();
  if (problem.errors) error.errors = problem.errors;
  return toolError(error);
}

function fromJobError(jobId: string, e: JobError): McpToolError {
  const error: McpToolError = { code: e.code, message: e.message, retryable: e.retryable, jobId };
  if (e.retryAt !== undefined) error.retryAt = e.retryAt;
  if (e.upstreamStatus !== undefined) error.upstreamStatus = e.upstreamStatus;
  return error;
}

/**
 * The answer to a tool call once the wait is over:
 * - succeeded: the result as JSON text, the job (result included) as `structuredContent`;
 * - failed: a tool error with the job's error code;
 * - cancelled: a tool error (`CONFLICT`): there will be no result;
 * - still queued, running, deferred or awaiting_approval (held for an
 *   operator, config `approvals`): not an error; the job and how to fetch its result.
 */
export function jobOutcomeResult(job: PublicJob): CallToolResult {
  if (job.status === 'succeeded') {
    return { content: [{ type: 'text', text: JSON.stringify(job.result ?? null) }], structuredContent: asObject(job) };
  }
  if (job.status === 'failed') {
    return toolError(fromJobError(job.id, job.error ?? { code: 'UNKNOWN', message: 'The job failed.', retryable: false }));
  }
  if (job.status === 'cancelled') {
    return toolError({ code: 'CONFLICT', message: 'The job was cancelled before it ran.', retryable: false, jobId: job.id });
  }
  const hint =
    job.status === 'awaiting_approval'
      ? `Job ${job.id} is awaiting_approval: an operator must approve it before it runs (denied or not decided in time, it fails APPROVAL_DENIED or APPROVAL_EXPIRED). Call get_job with {"id":"${job.id}","waitMs":25000} for its result.`
      : `Job ${job.id} is ${job.status}. Call get_job with {"id":"${job.id}","waitMs":25000} for its result.`;
  return { content: [{ type: 'text', text: `${hint}\n${JSON.stringify(job)}` }], structuredContent: asObject(job) };
}

/** `get_job`: the job itself, whatever its state (the lookup succeeded). */
export function jobResult(job: PublicJob): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(job) }], structuredContent: asObject(job) };
}

export const isTerminalJob = (job: PublicJob) => TERMINAL_STATUSES.has(job.status);
