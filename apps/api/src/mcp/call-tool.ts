import type { CallToolResult, ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import type { ToolDescriptor } from '@broker/tools/descriptors';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { submitToolJob } from '../jobs/submit';
import { callOptionsOf, type CallOptions } from './call-options';
import { jobOutcomeResult } from './results';
import { waitForJob } from './wait-for-job';

/** What the MCP SDK hands a request handler, reduced to what a tool call uses. */
export interface CallExtra {
  signal: AbortSignal;
  sendNotification: (notification: ServerNotification) => Promise<void>;
}

export interface CallRequest {
  tool: ToolDescriptor;
  args: Record<string, unknown> | undefined;
  meta: Record<string, unknown> | undefined;
  requestId: string;
}

type ProgressToken = string | number;

/** Progress notifications for one call; each says where the job stands (RFC: `progress` must increase). */
function progressReporter(token: ProgressToken | undefined, extra: CallExtra) {
  let step = 0;
  return async (record: JobRecord) => {
    if (token === undefined) return;
    const attempt = record.attempts > 0 ? ` (attempt ${record.attempts})` : '';
    // The client may have gone; its answer is lost anyway, and the job runs on.
    await extra
      .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: step++, message: `${record.id}: ${record.status}${attempt}` } })
      .catch(() => undefined);
  };
}

/**
 * Submits the call's job exactly as `POST /v1/jobs` would (same validation, scopes, idempotency, metrics).
 * `via` is recorded on the job: `mcp-task` for a task-augmented call (task-store.ts).
 */
export async function submitCall(ctx: ApiContext, agent: AuthenticatedAgent, request: CallRequest, via?: JobRecord['via']): Promise<{ record: JobRecord; options: CallOptions }> {
  const options = callOptionsOf(request.meta);
  const body: Record<string, unknown> = { tool: request.tool.name, input: request.args ?? {} };
  if (options.connection !== undefined) body.connection = options.connection;
  if (options.callbackUrl !== undefined) body.callbackUrl = options.callbackUrl;
  const { record } = await submitToolJob(ctx, agent, { body, idempotencyKey: options.idempotencyKey, requestId: request.requestId, ...(via ? { via } : {}) });
  return { record, options };
}

/**
 * A broker tool called over MCP: the job is submitted exactly as
 * `POST /v1/jobs` would (same validation, scopes, idempotency, metrics), then
 * the call waits for it (see MCP_WAIT_MS), reporting progress when the client
 * asked for it, and answers with the result, the error, or the job id to poll.
 *
 * Once the job is queued nothing refuses the call, as in the task path
 * (task-call.ts): a read that fails during the wait (Redis slow or away)
 * ends it with the job as last read, answered like any job still running
 * (its id, and get_job to poll). A refusal there would say "Nothing was
 * queued. Retryable", and an agent calling again without an idempotency key
 * would queue the same write a second time.
 */
export async function callBrokerTool(ctx: ApiContext, agent: AuthenticatedAgent, request: CallRequest, extra: CallExtra): Promise<CallToolResult> {
  const { record, options } = await submitCall(ctx, agent, request);
  const token = request.meta?.progressToken as ProgressToken | undefined;
  const report = progressReporter(token, extra);
  await report(record);
  const final = await waitForJob(ctx, record, agent, options.waitMs, {
    signal: extra.signal,
    ...(token !== undefined ? { onChange: report } : {}),
    onReadFailure: (err) => {
      ctx.logger.warn(
        { requestId: request.requestId, agent: agent.id, jobId: record.id, err: (err as Error).message },
        'could not read a queued job while an MCP call waited for it; answered with the job as last read',
      );
    },
  });
  return jobOutcomeResult(toPublicJob(final));
}
