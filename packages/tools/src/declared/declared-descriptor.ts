import type { DeclaredTool, IntegrationConfig } from '@broker/shared/config/schema';
import type { ToolDescriptor, ValidationResult } from '../types';
import { compileJsonSchema } from './json-schema';

/** A declared tool without `output` takes any answer. */
export const ANY_OUTPUT = {};

export interface DeclaredDescription {
  descriptor: ToolDescriptor;
  validateOutput(output: unknown): ValidationResult;
}

/**
 * What a tool declared in the config file is (its `input`/`output` JSON
 * Schemas, compiled). Both are compiled wherever it is described, so a
 * schema Ajv refuses stops the api at start as it stops the worker.
 */
export function describeDeclared(integrationName: string, integration: IntegrationConfig, tool: DeclaredTool): DeclaredDescription {
  const validateInput = compileJsonSchema(tool.input);
  const validateOutput = compileJsonSchema(tool.output ?? ANY_OUTPUT);
  return {
    descriptor: {
      name: tool.name,
      integration: integrationName,
      description: tool.description,
      idempotent: tool.idempotent,
      write: tool.method !== 'GET',
      apiVersion: integration.apiVersion?.value ?? null,
      inputSchema: tool.input,
      outputSchema: tool.output ?? ANY_OUTPUT,
      validateInput,
    },
    validateOutput,
  };
}

/** The api's view of a declared tool. */
export function declaredDescriptor(integrationName: string, integration: IntegrationConfig, tool: DeclaredTool): ToolDescriptor {
  return describeDeclared(integrationName, integration, tool).descriptor;
}
