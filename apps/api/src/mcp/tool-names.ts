import type { Logger } from '@broker/shared/logger';
import type { Catalogue, ToolDescriptor } from '@broker/tools/descriptors';
import type { AuthenticatedAgent } from '../auth/agent-auth';

/** The broker's own MCP tools; a broker tool whose MCP name would shadow one of them is not offered over MCP. */
export const HELPER_TOOL_NAMES = ['get_job', 'retry_job', 'list_tools'] as const;

/**
 * `demo.getContact` → `demo_getContact` (docs/mcp-and-openclaw.md): many MCP clients only
 * accept `[A-Za-z0-9_-]` in tool names, and a dot is not among them.
 */
export function mcpToolName(name: string): string {
  return name.replace(/\./g, '_');
}

/**
 * The agent's tools by MCP name: only what its scopes allow, exactly like
 * `GET /v1/tools`. Two broker names that map to one MCP name keep the first.
 */
export function agentToolsByMcpName(catalogue: Catalogue, agent: AuthenticatedAgent, logger: Logger): Map<string, ToolDescriptor> {
  const byName = new Map<string, ToolDescriptor>();
  for (const tool of catalogue.list()) {
    if (!agent.mayUseTool(tool.name)) continue;
    const name = mcpToolName(tool.name);
    const taken = byName.get(name);
    if (taken || (HELPER_TOOL_NAMES as readonly string[]).includes(name)) {
      logger.warn({ tool: tool.name, mcpName: name, shadowedBy: taken?.name ?? name }, 'tool not offered over MCP: its name is taken');
      continue;
    }
    byName.set(name, tool);
  }
  return byName;
}
