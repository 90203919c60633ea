import type { BrokerConfig } from '@broker/shared/config/schema';
import type { BuiltinTool } from './define-tool';
import { builtinIntegrations } from './builtin';
import { declaredTool } from './declared/declared-tool';
import { configuredTools, type ToolSet } from './tool-set';
import type { RunnableTool } from './types';

/** The worker's tools: what the api's catalogue describes, with what runs them. */
export type ToolRegistry = ToolSet<RunnableTool>;

/**
 * Every tool the config makes available, with its implementation (see
 * tool-set.ts). Built once per process; schemas are compiled here and never
 * again.
 */
export function createToolRegistry(config: BrokerConfig, builtins: Record<string, readonly BuiltinTool[]> = builtinIntegrations): ToolRegistry {
  return configuredTools(config, (name, apiVersion) => (builtins[name] ?? []).map((make) => make(apiVersion)), declaredTool);
}
