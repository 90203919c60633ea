import type { CreateTaskResult } from '@modelcontextprotocol/sdk/experimental/tasks/types.js';
import type { RequestTaskStore } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { submitCall, type CallRequest } from './call-tool';
import { TASK_JOB_CONTEXT } from './task-store';

/** The spec's hint for a host that hands control back to the model while the task runs. */
const MODEL_IMMEDIATE_RESPONSE = 'io.modelcontextprotocol/model-immediate-response';

/**
 * A task-augmented `tools/call` (MCP 2025-11-25 tasks): the job is submitted
 * exactly as a plain call's, recorded as a task (`via: "mcp-task"`), and its
 * id becomes the task id (docs/mcp-and-openclaw.md#tasks). The answer is the
 * CreateTaskResult at once; the job runs in a worker, and
 * `tasks/get`/`tasks/result` read it. A refusal throws (task-errors.ts makes
 * it a JSON-RPC error): no job, no task. Once the job is queued nothing
 * refuses the call: createTask answers even when it could not index the task
 * (a retryable error there would have a client queue the job twice).
 */
export async function createToolTask(
  ctx: ApiContext,
  agent: AuthenticatedAgent,
  request: CallRequest,
  ttl: number | undefined,
  taskStore: RequestTaskStore | undefined,
): Promise<CreateTaskResult> {
  // The server is always built with a task store (mcp-server.ts); this only narrows the SDK's optional type.
  if (!taskStore) throw new McpError(ErrorCode.InternalError, 'Tasks are not available.');
  const { record } = await submitCall(ctx, agent, request, 'mcp-task');
  const task = await taskStore.createTask({ ...(ttl !== undefined ? { ttl } : {}), context: { [TASK_JOB_CONTEXT]: record } });
  const text = `Job ${record.id} (${record.tool}) was queued as task ${task.taskId}; its result comes from tasks/result (or get_job {"id":"${record.id}"}).`;
  return { task, _meta: { [MODEL_IMMEDIATE_RESPONSE]: text } };
}
