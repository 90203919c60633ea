/**
 * `@broker/tools/descriptors`: what the api knows of tools — names,
 * descriptions, JSON Schemas, the flags its guards read, input validation —
 * and nothing that runs them. It loads no implementation, so no Stripe SDK,
 * GraphQL client or pagination (test/infra/catalogue-boundary.test.ts holds
 * the api to it); the worker's registry (`createToolRegistry` of
 * `@broker/tools`) pairs the same descriptions with their implementations.
 */
import type { BrokerConfig } from '@broker/shared/config/schema';
import { builtinDescriptors } from './builtin/descriptors';
import { declaredDescriptor } from './declared/declared-descriptor';
import { describedTool } from './describe-tool';
import { configuredTools, type ToolSet } from './tool-set';
import type { ToolDescriptor, ValidationResult } from './types';

export type { ToolDescriptor, ValidationResult };
export type { ToolDescription } from './describe-tool';
export { builtinDescriptors };
export { declaredSchemaProblems, loadCheckedConfigFile } from './declared/checked-config';

export type Catalogue = ToolSet<ToolDescriptor>;

/** Every tool the config makes available (see tool-set.ts), described; schemas are compiled once, here. */
export function createCatalogue(config: BrokerConfig): Catalogue {
  return configuredTools(config, (name, apiVersion) => (builtinDescriptors[name] ?? []).map((d) => describedTool(d, apiVersion)), declaredDescriptor);
}
