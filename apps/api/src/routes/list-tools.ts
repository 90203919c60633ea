import type { RequestHandler } from 'express';
import type { ToolList } from '@broker/shared/tools/tool-list';
import type { ToolDescriptor } from '@broker/tools/descriptors';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';

/** One entry of `GET /v1/tools` (MCP's `list_tools` adds the tool's MCP name). */
export function toolEntry(tool: ToolDescriptor): ToolList['tools'][number] {
  return {
    name: tool.name,
    description: tool.description,
    integration: tool.integration,
    apiVersion: tool.apiVersion,
    idempotent: tool.idempotent,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
  };
}

/** `GET /v1/tools`: the tools this agent's scopes allow, nothing more (an agent cannot discover the rest). */
export function listTools({ catalogue }: ApiContext): RequestHandler {
  return (_req, res) => {
    const agent = agentOf(res);
    const tools = catalogue
      .list()
      .filter((tool) => agent.mayUseTool(tool.name))
      .map(toolEntry);
    // Typed by the schema /openapi.json is generated from, so the two cannot drift.
    const body: ToolList = { tools };
    res.json(body);
  };
}
