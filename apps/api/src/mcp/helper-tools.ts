import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob } from '@broker/redis/jobs/job-store';
import type { ToolDescriptor } from '@broker/tools/descriptors';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { toolEntry } from '../routes/list-tools';
import { readOwnJob } from '../routes/own-job';
import { retryOwnJob } from '../routes/retry-job';
import { MCP_WAIT_MS, waitMsOf } from './call-options';
import { JOB_TOOL_OUTPUT_SCHEMA, LIST_TOOLS_OUTPUT_SCHEMA } from './output-schemas';
import { jobResult } from './results';
import { mcpToolName } from './tool-names';
import { waitForJob } from './wait-for-job';

/** The input of a helper tool that names one of the agent's jobs and may wait for it. */
function jobIdInput(waitDescription: string): Tool['inputSchema'] {
  return {
    type: 'object',
    required: ['id'],
    properties: {
      id: { type: 'string', description: 'job_…' },
      waitMs: { type: 'integer', minimum: 0, maximum: MCP_WAIT_MS, description: waitDescription },
    },
    additionalProperties: false,
  };
}

/** The broker's own tools, beside the integrations' ones. */
export const HELPER_TOOLS: Tool[] = [
  {
    name: 'get_job',
    description:
      'Read a job you submitted (by id, e.g. the one a tool call answered with when it was still running), ' +
      `waiting up to waitMs (0..${MCP_WAIT_MS}) for it to finish. Returns {job}: status, attempts, result or error.`,
    inputSchema: jobIdInput('wait for the job to finish; default 0'),
    outputSchema: JOB_TOOL_OUTPUT_SCHEMA,
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: 'retry_job',
    description:
      'Run a failed job of yours again, as the same job (same id, same upstream idempotency key), when its error is retryable ' +
      '(retryable: true) or OUTCOME_UNKNOWN (a write without an idempotency key is looked up by its reference first and sent ' +
      'again only if cleanly absent; a tool that cannot be looked up is not sent again: check the external state and submit ' +
      'a new job if it did not happen). Not before its retryAt. Waits up to waitMs ' +
      `(0..${MCP_WAIT_MS}) for the re-run to finish. Any other state is a CONFLICT error. Returns {job}.`,
    inputSchema: jobIdInput('wait for the re-run to finish; default 0'),
    outputSchema: JOB_TOOL_OUTPUT_SCHEMA,
    // It calls the external API again; a second call while the job runs or after it succeeded is refused (CONFLICT).
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  {
    name: 'list_tools',
    description: "List the broker tools this key may call with the broker's names, integration, idempotency and output schemas " + '(MCP names replace "." with "_").',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    outputSchema: LIST_TOOLS_OUTPUT_SCHEMA,
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
];

/**
 * `get_job {id, waitMs?}`: another agent's job, one of a tool outside the
 * credential's scopes (an access token narrowed to `tools:demo.*` reading the
 * agent's `stripe.*` jobs) and an unknown id are all NOT_FOUND, alike.
 */
export async function getJobTool(ctx: ApiContext, agent: AuthenticatedAgent, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
  const { id, waitMs } = jobArgs('get_job', args);
  const record = await readOwnJob(ctx.store, id, agent);
  const final = waitMs > 0 ? await waitForJob(ctx, record, agent, waitMs, { signal }) : record;
  return jobResult(toPublicJob(final));
}

/** `{id, waitMs?}` of get_job and retry_job, or VALIDATION_ERROR naming each bad field. */
function jobArgs(tool: string, args: Record<string, unknown>): { id: string; waitMs: number } {
  const id = args.id;
  const waitMs = waitMsOf(args.waitMs ?? 0, '/waitMs');
  const errors = [...(typeof id === 'string' ? [] : [{ pointer: '/id', message: 'must be a job id string' }]), ...(typeof waitMs === 'number' ? [] : [waitMs])];
  if (errors.length > 0 || typeof id !== 'string' || typeof waitMs !== 'number') {
    throw new ProblemError('VALIDATION_ERROR', `Invalid ${tool} arguments.`, errors);
  }
  return { id, waitMs };
}

/**
 * `retry_job {id, waitMs?}`: `POST /v1/jobs/{id}/retry` (same rules: NOT_FOUND
 * for another agent's job, CONFLICT for any state but a retryable failure),
 * then, with `waitMs`, a wait for the re-run like get_job's.
 */
export async function retryJobTool(ctx: ApiContext, agent: AuthenticatedAgent, args: Record<string, unknown>, signal: AbortSignal, requestId: string): Promise<CallToolResult> {
  const { id, waitMs } = jobArgs('retry_job', args);
  const record = await withRedisDeadline(retryOwnJob(ctx, agent, id, requestId));
  // The re-run is queued: a read that fails while waiting answers the job as queued, never a refusal (see call-tool.ts).
  const onReadFailure = (err: unknown) =>
    ctx.logger.warn({ requestId, agent: agent.id, jobId: id, err: (err as Error).message }, 'could not read a retried job while retry_job waited for it');
  const final = waitMs > 0 ? await waitForJob(ctx, record, agent, waitMs, { signal, onReadFailure }) : record;
  return jobResult(toPublicJob(final));
}

/** `list_tools`: `GET /v1/tools`'s entries, each with the name it has over MCP. */
export function listToolsTool(tools: Iterable<ToolDescriptor>): CallToolResult {
  const list = [...tools].map((tool) => {
    const { name, ...rest } = toolEntry(tool);
    return { name, mcpName: mcpToolName(name), ...rest };
  });
  const result = { tools: list };
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
}
