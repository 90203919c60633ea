import type { BrokerConfig } from '@broker/shared';
import type { BuiltinTool } from './define-tool';
import { builtinIntegrations } from './builtin';
import { declaredTool } from './declared/declared-tool';
import type { RunnableTool } from './types';

export interface ToolRegistry {
  list(): readonly RunnableTool[];
  get(name: string): RunnableTool | undefined;
}

/**
 * Every tool the config makes available: the built-in tools of each configured
 * built-in integration, then the tools the file declares. Built once per
 * process; schemas are compiled here and never again.
 */
export function createToolRegistry(
  config: BrokerConfig,
  builtins: Record<string, readonly BuiltinTool[]> = builtinIntegrations,
): ToolRegistry {
  const tools = new Map<string, RunnableTool>();
  for (const [name, integration] of Object.entries(config.integrations)) {
    const apiVersion = integration.apiVersion?.value ?? null;
    for (const make of builtins[name] ?? []) {
      const tool = make(apiVersion);
      tools.set(tool.name, tool);
    }
    for (const declared of integration.tools) {
      // A declared tool of the same name overrides the built-in one on purpose.
      tools.set(declared.name, declaredTool(name, integration, declared));
    }
  }
  const list = [...tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { list: () => list, get: (name) => tools.get(name) };
}
