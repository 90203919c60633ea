import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { TERMINAL_STATUSES, type JobError, type PublicJob } from '@broker/shared/jobs/schema';
import type { FieldError, Problem } from '@broker/shared/errors/problem';

/**
 * `structuredContent.error` of an MCP tool error: the same `code`/`retryable`/
 * `retryAt` an agent reads in `job.error` over REST (docs/mcp-and-openclaw.md), or why the
 * call was refused before any job existed, with `errors` for bad input.
 */
export interface McpToolError {
  code: string;
  message: string;
  retryable: boolean;
  retryAt?: string;
  upstreamStatus?: number;
  errors?: FieldError[];
}

/** What every answer carries as `structuredContent` (see output-schemas.ts). */
export interface ToolAnswer {
  result?: unknown;
  job?: PublicJob;
  error?: McpToolError;
}

const asObject = (value: object): Record<string, unknown> => ({ ...value });

/** "in 42 s" / "in 3 min" / "in 5 h" until an ISO time, for an LLM that has no clock. */
function fromNow(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000));
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 120) return ` (in ${seconds} s)`;
  if (seconds < 7200) return ` (in ${Math.round(seconds / 60)} min)`;
  return ` (in ${Math.round(seconds / 3600)} h)`;
}

const when = (error: McpToolError) => (error.retryAt ? `at or after ${error.retryAt}${fromNow(error.retryAt)}` : 'now');

/** What to do next about a failed job, in words an LLM can act on. */
function failedJobAdvice(job: PublicJob, error: McpToolError): string {
  const retry = `retry_job {"id":"${job.id}"}`;
  if (error.code === 'OUTCOME_UNKNOWN') {
    return `It is unknown whether the write took effect, so it was not sent again. ${retry} looks it up by its reference before sending it again (a tool that cannot be looked up is not sent again: check the external system, then submit a new job only if it did not happen).`;
  }
  if (error.retryable)
    return `Retryable: call ${retry} ${when(error)}; it runs again as the same job, with the same upstream idempotency key. Calling the tool again would submit a new job.`;
  switch (error.code) {
    case 'APPROVAL_DENIED':
    case 'APPROVAL_EXPIRED':
      return 'Not retryable: nothing was sent upstream. Do not submit it again unless the user asks you to.';
    case 'AUTHENTICATION_FAILED':
    case 'PERMISSION_DENIED':
      return "Not retryable: the broker's credential for this API was refused; an operator must fix it. Tell the user.";
    case 'VALIDATION_ERROR':
      return 'Not retryable: the upstream refused the input. Change the input before calling again.';
    case 'NOT_FOUND':
      return 'Not retryable: what the input names does not exist upstream. Check the id before calling again.';
    default:
      return 'Not retryable: the same call would fail the same way.';
  }
}

/** What to do next about a call refused before any job was queued. */
function refusalAdvice(error: McpToolError): string {
  const fields = (error.errors ?? []).map((e) => `${e.pointer || '/'}: ${e.message}`).join('; ');
  const detail = fields ? ` Fix: ${fields}.` : '';
  if (error.retryable) return `Nothing was queued. Retryable: make the same call again ${when(error)}.${detail}`;
  return `Nothing was queued. Not retryable as is: change the call before trying again.${detail}`;
}

/**
 * A tool error: `structuredContent` is `{error, job?}`; the text says what
 * happened and what to do (retry or not, and when), then the same JSON.
 */
export function toolError(error: McpToolError, job?: PublicJob): CallToolResult {
  const structured: ToolAnswer = job ? { error, job } : { error };
  const headline = job ? `Job ${job.id} (${job.tool}) ${job.status}: ${error.code}: ${error.message}` : `${error.code}: ${error.message}`;
  const advice = job ? (job.status === 'failed' ? failedJobAdvice(job, error) : 'Nothing was done; submit it again if it is still needed.') : refusalAdvice(error);
  return { isError: true, content: [{ type: 'text', text: `${headline}\n${advice}\n${JSON.stringify(structured)}` }], structuredContent: asObject(structured) };
}

/** API refusals worth trying again later (Redis away; rate limited). */
const RETRYABLE_STATUSES = new Set([429, 503]);

/** Why a request was refused (validation, unknown tool, Redis away…); `Retry-After` becomes `retryAt`. */
export function problemToolError(problem: Problem, headers: Record<string, string> = {}): McpToolError {
  const error: McpToolError = { code: problem.code, message: problem.detail, retryable: RETRYABLE_STATUSES.has(problem.status) };
  const retryAfter = Number(headers['Retry-After']);
  if (error.retryable && Number.isFinite(retryAfter)) error.retryAt = new Date(Date.now() + retryAfter * 1000).toISOString();
  if (problem.errors) error.errors = problem.errors;
  return error;
}

/** A refused request as a tool error. */
export function problemResult(problem: Problem, headers: Record<string, string> = {}): CallToolResult {
  return toolError(problemToolError(problem, headers));
}

function fromJobError(e: JobError): McpToolError {
  const error: McpToolError = { code: e.code, message: e.message, retryable: e.retryable };
  if (e.retryAt !== undefined) error.retryAt = e.retryAt;
  if (e.upstreamStatus !== undefined) error.upstreamStatus = e.upstreamStatus;
  return error;
}

/**
 * The answer to a tool call once the wait is over:
 * - succeeded: the result as JSON text; `structuredContent` `{result, job}`
 *   (the job without its result, which is under `result` already);
 * - failed: a tool error `{error: job.error, job}`;
 * - cancelled: a tool error (`CONFLICT`): there will be no result;
 * - still queued, running, deferred or awaiting_approval (held for an
 *   operator, config `approvals`): not an error; `{job}` and how to fetch its result.
 */
export function jobOutcomeResult(job: PublicJob): CallToolResult {
  if (job.status === 'succeeded') {
    const { result, ...rest } = job;
    const structured: ToolAnswer = result === undefined ? { job: rest } : { result, job: rest };
    return { content: [{ type: 'text', text: JSON.stringify(result ?? null) }], structuredContent: asObject(structured) };
  }
  if (job.status === 'failed') {
    return toolError(fromJobError(job.error ?? { code: 'UNKNOWN', message: 'The job failed.', retryable: false }), job);
  }
  if (job.status === 'cancelled') {
    return toolError({ code: 'CONFLICT', message: 'The job was cancelled before it ran.', retryable: false }, job);
  }
  const hint =
    job.status === 'awaiting_approval'
      ? `Job ${job.id} is awaiting_approval: an operator must approve it before it runs (denied or not decided in time, it fails APPROVAL_DENIED or APPROVAL_EXPIRED). Call get_job with {"id":"${job.id}","waitMs":25000} for its result.`
      : `Job ${job.id} is ${job.status}. Call get_job with {"id":"${job.id}","waitMs":25000} for its result.`;
  return { content: [{ type: 'text', text: `${hint}\n${JSON.stringify({ job })}` }], structuredContent: asObject({ job }) };
}

/** `get_job`/`retry_job`: `{job}` whatever its state (the lookup succeeded), the job's result included. */
export function jobResult(job: PublicJob): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify({ job }) }], structuredContent: asObject({ job }) };
}

export const isTerminalJob = (job: PublicJob) => TERMINAL_STATUSES.has(job.status);
