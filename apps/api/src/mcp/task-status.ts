import type { Task } from '@modelcontextprotocol/sdk/types.js';
import type { JobRecord } from '@broker/redis/jobs/job-store';

/**
 * `pollInterval` of a working task: the REST long-poll is the cheaper way to
 * wait, so a poller is asked for no more than one read every two seconds.
 * @defaultValue 2000
 */
export const TASK_POLL_MS = 2000;

/**
 * `pollInterval` of a task held for approval (`input_required`): an operator
 * decides in minutes, not seconds.
 * @defaultValue 10000
 */
export const HELD_TASK_POLL_MS = 10_000;

/**
 * The job's status as a task status (docs/mcp-and-openclaw.md#tasks):
 * queued, running and deferred jobs are `working`; a job held for an operator
 * (`awaiting_approval`) is `input_required`, the spec's "waiting on someone";
 * a failed job is `failed` (the spec counts a tool result with `isError` as a
 * failure, and a failed job's result is one).
 */
export function taskStatusOf(record: JobRecord): Task['status'] {
  switch (record.status) {
    case 'succeeded':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'awaiting_approval':
      return 'input_required';
    default:
      return 'working';
  }
}

function statusMessageOf(record: JobRecord): string {
  const attempt = record.attempts > 0 ? ` (attempt ${record.attempts})` : '';
  switch (record.status) {
    case 'succeeded':
      return `Job ${record.id} succeeded; tasks/result returns its result.`;
    case 'failed':
      return `Job ${record.id} failed: ${record.error?.code ?? 'UNKNOWN'}: ${record.error?.message ?? 'the job failed'}${record.error?.retryable ? ' (retryable)' : ''}.`;
    case 'cancelled':
      return `Job ${record.id} was cancelled; it will not run.`;
    case 'awaiting_approval':
      return `Job ${record.id} awaits an operator's approval${record.hold ? ` until ${record.hold.expiresAt}` : ''}; denied or not decided in time, it fails.`;
    case 'deferred':
      return `Job ${record.id} is deferred${attempt}: it waits to be tried again${record.error ? ` after ${record.error.code}` : ''}.`;
    default:
      return `Job ${record.id} is ${record.status}${attempt}.`;
  }
}

const latest = (times: Array<string | undefined>): string =>
  times.filter((t): t is string => typeof t === 'string' && t.length > 0).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));

/**
 * The job as an MCP task: `taskId` is the job id. `ttl` is what the broker
 * keeps: nothing is deleted while the job runs (`null`), and a finished job's
 * record lives `retention.jobSeconds` after it finished, so then it is the
 * time from creation to that expiry.
 */
export function taskOf(record: JobRecord, retentionMs: number): Task {
  const status = taskStatusOf(record);
  const finishedMs = record.finishedAt ? Date.parse(record.finishedAt) : NaN;
  const ttl = Number.isFinite(finishedMs) ? Math.max(0, finishedMs + retentionMs - Date.parse(record.createdAt)) : null;
  return {
    taskId: record.id,
    status,
    statusMessage: statusMessageOf(record),
    createdAt: record.createdAt,
    lastUpdatedAt: latest([record.createdAt, record.startedAt, record.finishedAt, record.retriedAt, record.decision?.at]),
    ttl,
    pollInterval: status === 'input_required' ? HELD_TASK_POLL_MS : TASK_POLL_MS,
  };
}
