import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { ProblemError } from '@broker/shared';
import type { ToolDescriptor } from '@broker/tools/catalogue';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { MCP_WAIT_MS } from './call-options';
import { callBrokerTool } from './call-tool';
import { getJobTool, HELPER_TOOLS, listToolsTool, retryJobTool } from './helper-tools';
import { brokerToolOutputSchema } from './output-schemas';
import { withToolErrors } from './tool-errors';
import { agentToolsByMcpName } from './tool-names';

const INSTRUCTIONS = [
  'Each tool call queues a job at the agent request broker, which calls the external API with rate limits and retries.',
  `A call waits up to ${MCP_WAIT_MS / 1000} s for the result; if the job is still running it answers with the job id: call get_job {"id","waitMs"} to wait more.`,
  'Every answer is JSON (structuredContent): {result, job} when the job succeeded, {job} while it runs, {error, job?} for a tool error.',
  'Errors carry code, retryable and retryAt: retry only when retryable is true, not before retryAt.',
  'A failed job whose error is retryable (or OUTCOME_UNKNOWN: a write is looked up by its reference before it is sent again) runs again as the same job with retry_job {"id"}; calling the tool again with the same broker/idempotencyKey only answers the same failed job.',
  'For writes, pass _meta {"broker/idempotencyKey": "<unique per operation>"} so that calling again cannot act twice.',
].join('\n');

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
 * validates tool errors' `structuredContent` too.
 */
export function createMcpServer(ctx: ApiContext, agent: AuthenticatedAgent, requestId: string): Server {
  const server = new Server({ name: 'agent-request-broker', version: '0.1.0' }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const log = ctx.logger.child({ requestId, agent: agent.id, via: 'mcp' });
  const tools = agentToolsByMcpName(ctx.catalogue, agent, log);

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...[...tools].map(([name, tool]) => describe(name, tool)), ...HELPER_TOOLS],
  }));

  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    withToolErrors(log, requestId, async () => {
      const { name, arguments: args, _meta: meta } = request.params;
      if (name === 'get_job') return getJobTool(ctx, agent, args ?? {}, extra.signal);
      if (name === 'retry_job') return retryJobTool(ctx, agent, args ?? {}, extra.signal, requestId);
      if (name === 'list_tools') return listToolsTool(tools.values());
      const tool = tools.get(name);
      // Out of scope reads as unknown, as in GET /v1/tools: a key cannot discover other tools.
      if (!tool) throw new ProblemError('TOOL_NOT_FOUND', `No tool named "${name}".`);
      return callBrokerTool(ctx, agent, { tool, args, meta, requestId }, extra);
    }),
  );
  return server;
}
