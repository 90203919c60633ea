import type { BrokerConfig, DeclaredTool, IntegrationConfig } from '@broker/shared/config/schema';
import type { ToolDescriptor } from './types';

/** The tools a config makes available, as the api (descriptors) or the worker (runnable tools) holds them. */
export interface ToolSet<T extends ToolDescriptor> {
  list(): readonly T[];
  get(name: string): T | undefined;
}

/**
 * Every tool the config makes available: the built-in tools of each configured
 * built-in integration, then the tools the file declares. The api and the
 * worker build theirs with this one walk, so both see the same names.
 */
export function configuredTools<T extends ToolDescriptor>(
  config: BrokerConfig,
  builtin: (integration: string, apiVersion: string | null) => readonly T[],
  declared: (integrationName: string, integration: IntegrationConfig, tool: DeclaredTool) => T,
): ToolSet<T> {
  const tools = new Map<string, T>();
  for (const [name, integration] of Object.entries(config.integrations)) {
    const apiVersion = integration.apiVersion?.value ?? null;
    for (const tool of builtin(name, apiVersion)) tools.set(tool.name, tool);
    for (const tool of integration.tools) {
      // A declared tool of the same name overrides the built-in one on purpose.
      tools.set(tool.name, declared(name, integration, tool));
    }
  }
  const list = [...tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { list: () => list, get: (name) => tools.get(name) };
}
