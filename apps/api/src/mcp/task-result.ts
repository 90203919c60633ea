import { ErrorCode, McpError, RELATED_TASK_META_KEY, type CallToolResult, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import type { JobReader } from '../routes/own-job';
import { waitMsOf } from './call-options';
import { isTerminalJob, jobOutcomeResult } from './results';
import type { JobTaskStore } from './task-store';
import { taskOf } from './task-status';
import { waitForJob } from './wait-for-job';

/**
 * The longest a `tasks/result` blocks for an unfinished task. The spec says
 * block until the task ends, but a held job can wait hours for an operator,
 * and proxies and the SDK client (60 s request timeout) give up on a silent
 * request well before that. At the bound the request fails `-32001` (request
 * timeout) and the task goes on: the spec lets a requestor whose `tasks/result`
 * failed call it again, or poll `tasks/get`. A call may ask for less with
 * `_meta["broker/waitMs"]`.
 * @defaultValue 50000
 */
export const TASK_RESULT_WAIT_MS = 50_000;

/** What a `tasks/result` handler is given by the SDK, reduced to what it uses. */
export interface TaskResultExtra {
  signal: AbortSignal;
  _meta?: Record<string, unknown> | undefined;
  sendNotification: (notification: ServerNotification) => Promise<void>;
}

const taskNotFound = (taskId: string) => new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);

/**
 * `tasks/result`, replacing the SDK's handler (which re-reads the store on a
 * timer without end): the wait sleeps on the job event hub like `get_job`'s
 * (wait-for-job.ts), up to {@link TASK_RESULT_WAIT_MS}, then answers exactly
 * what a plain tools/call answers for the finished job, with the
 * related-task `_meta` the spec requires. While it waits, each change of the
 * task's status is sent as `notifications/tasks/status` on this request's
 * stream: the one stream a stateless server has open to the client.
 */
export async function taskResult(ctx: ApiContext, reader: JobReader, store: JobTaskStore, taskId: string, extra: TaskResultExtra): Promise<CallToolResult> {
  const waitMs = waitMsOf(extra._meta?.['broker/waitMs'], '/_meta/broker~1waitMs', TASK_RESULT_WAIT_MS);
  if (typeof waitMs !== 'number') throw new McpError(ErrorCode.InvalidParams, `broker/waitMs ${waitMs.message}`);
  const record = await store.readTaskJob(taskId);
  if (!record) throw taskNotFound(taskId);

  const retentionMs = ctx.config.retention.jobSeconds * 1000;
  const shown = (r: JobRecord) => {
    const task = taskOf(r, retentionMs);
    return { task, key: `${task.status} ${task.statusMessage ?? ''}` };
  };
  let last = shown(record).key;
  const notify = async (r: JobRecord) => {
    const { task, key } = shown(r);
    if (key === last) return;
    last = key;
    // The client may have gone; the task goes on, and tasks/get still tells.
    await extra.sendNotification({ method: 'notifications/tasks/status', params: task }).catch(() => undefined);
  };

  const final = await waitForJob(ctx, record, reader, waitMs, { signal: extra.signal, onChange: notify });
  if (!isTerminalJob(final)) {
    const { task } = shown(final);
    // The task goes on: a client (such as the SDK's callToolStream, which ends at this error) should poll tasks/get.
    const held = task.status === 'input_required' ? ' It waits for an operator, which can take hours.' : '';
    throw new McpError(
      ErrorCode.RequestTimeout,
      `Task ${taskId} is still ${task.status} after ${waitMs / 1000} s; the task carries on.${held} Poll tasks/get (every pollInterval ms) until it ends, then call tasks/result; tasks/result waits at most ${TASK_RESULT_WAIT_MS / 1000} s each time.`,
      { status: task.status, statusMessage: task.statusMessage, pollInterval: task.pollInterval },
    );
  }
  await notify(final);
  const result = jobOutcomeResult(toPublicJob(final));
  return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId } } };
}
