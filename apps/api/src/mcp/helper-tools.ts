import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { ProblemError, toPublicJob } from '@broker/shared';
import type { ToolDescriptor } from '@broker/tools/catalogue';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { toolEntry } from '../routes/list-tools';
import { readOwnJob } from '../routes/own-job';
import { MCP_WAIT_MS, waitMsOf } from './call-options';
import { jobResult } from './results';
import { mcpToolName } from './tool-names';
import { waitForJob } from './wait-for-job';

/** The broker's own tools, beside the integrations' ones. */
export const HELPER_TOOLS: Tool[] = [
  {
    name: 'get_job',
    description:
      'Read a job you submitted (by id, e.g. the one a tool call answered with when it was still running), ' +
      `waiting up to waitMs (0..${MCP_WAIT_MS}) for it to finish. Returns the job: status, attempts, result or error.`,
    inputSchema: {
      type: 'object',
      required: ['id'],
      properties: {
        id: { type: 'string', description: 'job_…' },
        waitMs: { type: 'integer', minimum: 0, maximum: MCP_WAIT_MS, description: 'wait for the job to finish; default 0' },
      },
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: 'list_tools',
    description:
      "List the broker tools this key may call with the broker's names, integration, idempotency and output schemas " +
      '(MCP names replace "." with "_").',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
];

/** `get_job {id, waitMs?}`: another agent's job or an unknown id is NOT_FOUND, exactly as over REST. */
export async function getJobTool(ctx: ApiContext, agent: AuthenticatedAgent, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
  const id = args.id;
  const waitMs = waitMsOf(args.waitMs ?? 0, '/waitMs');
  const errors = [
    ...(typeof id === 'string' ? [] : [{ pointer: '/id', message: 'must be a job id string' }]),
    ...(typeof waitMs === 'number' ? [] : [waitMs]),
  ];
  if (errors.length > 0 || typeof id !== 'string' || typeof waitMs !== 'number') {
    throw new ProblemError('VALIDATION_ERROR', 'Invalid get_job arguments.', errors);
  }
  const record = await readOwnJob(ctx.store, id, agent.id);
  const final = waitMs > 0 ? await waitForJob(ctx, record, agent.id, waitMs, { signal }) : record;
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
