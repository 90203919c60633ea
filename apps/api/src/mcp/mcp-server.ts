import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetTaskPayloadRequestSchema,
  ListTasksRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { ProblemError } from '@broker/shared/errors/problem';
import type { RedisKeys } from '@broker/redis/keys';
import type { ToolDescriptor } from '@broker/tools/descriptors';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { MCP_WAIT_MS } from './call-options';
import { callBrokerTool } from './call-tool';
import { getJobTool, HELPER_TOOLS, listToolsTool, retryJobTool } from './helper-tools';
import { brokerToolOutputSchema } from './output-schemas';
import { createToolTask } from './task-call';
import { taskError } from './task-errors';
import { TaskIndex } from './task-index';
import { taskResult } from './task-result';
import { JobTaskStore } from './task-store';
import { withToolErrors } from './tool-errors';
import { agentToolsByMcpName } from './tool-names';

const INSTRUCTIONS = [
  'Each tool call queues a job at the agent request broker, which calls the external API with rate limits and retries.',
  `A call waits up to ${MCP_WAIT_MS / 1000} s for the result; if the job is still running it answers with the job id: call get_job {"id","waitMs"} to wait more.`,
  'Every answer is JSON (structuredContent): {result, job} when the job succeeded, {job} while it runs, {error, job?} for a tool error.',
  'Errors carry code, retryable and retryAt: retry only when retryable is true, not before retryAt.',
  'A failed job whose error is retryable (or OUTCOME_UNKNOWN: a write is looked up by its reference before it is sent again) runs again as the same job with retry_job {"id"}; calling the tool again with the same broker/idempotencyKey only answers the same failed job.',
  'For writes, pass _meta {"broker/idempotencyKey": "<unique per operation>"} so that calling again cannot act twice.',
  'Clients that support MCP tasks may call any broker tool as a task: the task id is the job id; tasks/get, tasks/result, tasks/list and tasks/cancel work on your own tasks.',
].join('\n');

/**
 * MCP tasks (spec 2025-11-25, docs/mcp-and-openclaw.md#tasks): listing,
 * cancelling, and task-augmented `tools/call` of broker tools (each declares
 * `execution.taskSupport: "optional"`; the helper tools do not, so they are
 * "forbidden").
 */
const CAPABILITIES: ServerCapabilities = {
  tools: {},
  tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
};

/** MCP requires `inputSchema.type` to be "object"; a tool's input always is one (the API refuses anything else). */
function objectSchema(schema: Record<string, unknown>): Tool['inputSchema'] {
  const { $schema: _dialect, ...rest } = schema;
  return { ...rest, type: 'object' };
}

function describe(mcpName: string, tool: ToolDescriptor): Tool {
  return {
    name: mcpName,
    title: tool.name,
    description: tool.description || `${tool.name} (${tool.integration})`,
    inputSchema: objectSchema(tool.inputSchema),
    outputSchema: brokerToolOutputSchema(tool.outputSchema),
    execution: { taskSupport: 'optional' },
    annotations: {
      title: tool.name,
      readOnlyHint: !tool.write,
      // A write is safe to repeat only when every try carries the same upstream key.
      idempotentHint: !tool.write || tool.idempotent,
      destructiveHint: tool.write,
      openWorldHint: true,
    },
    _meta: { 'broker/tool': tool.name, 'broker/integration': tool.integration, 'broker/idempotent': tool.idempotent },
  };
}

/**
 * One MCP server for one authenticated request (stateless Streamable HTTP):
 * it sees only the tools the agent's scopes allow, plus `get_job`,
 * `retry_job` and `list_tools`. Each tool's `outputSchema` is an envelope
 * (`{result, job, error}`, see output-schemas.ts), since a call that outlives
 * its wait answers with the job instead of the result, and the SDK client
 * validates tool errors' `structuredContent` too. Its tasks are the agent's
 * jobs created as tasks (task-store.ts); with no session to bind them to,
 * the agent the request authenticated as is the tenant boundary.
 */
export function createMcpServer(ctx: ApiContext, agent: AuthenticatedAgent, requestId: string, keys: RedisKeys): Server {
  const log = ctx.logger.child({ requestId, agent: agent.id, via: 'mcp' });
  const index = new TaskIndex(ctx.redis, keys, agent.id, ctx.config.retention.jobSeconds * 1000);
  // Its methods throw only taskError's JSON-RPC errors (logged, with the broker's error in data).
  const taskStore = new JobTaskStore(ctx, agent, index, { logger: log, requestId });
  // With a taskStore the SDK installs tasks/get, tasks/list and tasks/cancel over it (tasks/result and tasks/list are replaced below).
  const server = new Server({ name: 'agent-request-broker', version: '0.1.0' }, { capabilities: CAPABILITIES, instructions: INSTRUCTIONS, taskStore });
  const tools = agentToolsByMcpName(ctx.catalogue, agent, log);

  // The SDK's tasks/list answers every error, even an McpError, as -32602 "Failed to list tasks: <message>":
  // a Redis outage would read as a bad request. This one passes the store's error on (-32603 UNAVAILABLE, retryable).
  server.setRequestHandler(ListTasksRequestSchema, async (request) => {
    const { tasks, nextCursor } = await taskStore.listTasks(request.params?.cursor);
    return nextCursor ? { tasks, nextCursor } : { tasks };
  });

  server.setRequestHandler(GetTaskPayloadRequestSchema, (request, extra) =>
    taskResult(ctx, agent, taskStore, request.params.taskId, extra).catch((err: unknown) => {
      throw taskError(err, log, requestId);
    }),
  );

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...[...tools].map(([name, tool]) => describe(name, tool)), ...HELPER_TOOLS],
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args, _meta: meta, task } = request.params;
    if (task) {
      const tool = tools.get(name);
      // The spec's answer to a task-augmented call of a tool whose taskSupport is "forbidden".
      if (!tool && HELPER_TOOLS.some((t) => t.name === name)) throw new McpError(ErrorCode.MethodNotFound, `${name} cannot be called as a task; call it as a plain tool.`);
      try {
        if (!tool) throw new ProblemError('TOOL_NOT_FOUND', `No tool named "${name}".`);
        return await createToolTask(ctx, agent, { tool, args, meta, requestId }, task.ttl, extra.taskStore);
      } catch (err) {
        throw taskError(err, log, requestId);
      }
    }
    return withToolErrors(log, requestId, async () => {
      if (name === 'get_job') return getJobTool(ctx, agent, args ?? {}, extra.signal);
      if (name === 'retry_job') return retryJobTool(ctx, agent, args ?? {}, extra.signal, requestId);
      if (name === 'list_tools') return listToolsTool(tools.values());
      const tool = tools.get(name);
      // Out of scope reads as unknown, as in GET /v1/tools: a key cannot discover other tools.
      if (!tool) throw new ProblemError('TOOL_NOT_FOUND', `No tool named "${name}".`);
      return callBrokerTool(ctx, agent, { tool, args, meta, requestId }, extra);
    });
  });
  return server;
}
