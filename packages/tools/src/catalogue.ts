/**
 * The catalogue entry point: what the api may know of tools (names, schemas,
 * input validation) without their implementations' transport.
 */
import type { BrokerConfig } from '@broker/shared';
import { createToolRegistry } from './registry';
import type { ToolDescriptor, ValidationResult } from './types';

export type { ToolDescriptor, ValidationResult };

export interface Catalogue {
  list(): readonly ToolDescriptor[];
  get(name: string): ToolDescriptor | undefined;
}

export function createCatalogue(config: BrokerConfig): Catalogue {
  return createToolRegistry(config);
}
