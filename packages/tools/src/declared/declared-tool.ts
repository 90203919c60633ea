import type { DeclaredTool, IntegrationConfig } from '@broker/shared';
import type { RunnableTool } from '../types';
import { declaredAsync } from './declared-async';
import { compileJsonSchema } from './json-schema';
import { fillPath } from './fill-path';

const ANY_OUTPUT = {};

/** A tool declared in the config file: method + path template + JSON Schemas. */
export function declaredTool(integrationName: string, integration: IntegrationConfig, tool: DeclaredTool): RunnableTool {
  const validateInput = compileJsonSchema(tool.input);
  const validateOutput = compileJsonSchema(tool.output ?? ANY_OUTPUT);
  const sendsQuery = tool.method === 'GET' || tool.method === 'DELETE';
  const async = tool.async ? declaredAsync(tool.name, tool.async) : undefined;
  return {
    name: tool.name,
    integration: integrationName,
    description: tool.description,
    idempotent: tool.idempotent,
    write: tool.method !== 'GET',
    apiVersion: integration.apiVersion?.value ?? null,
    inputSchema: tool.input,
    outputSchema: tool.output ?? ANY_OUTPUT,
    validateInput,
    validateOutput,
    async run(input, ctx) {
      const { path, rest } = fillPath(tool.path, input as Record<string, unknown>);
      const response = await ctx.http.request(
        sendsQuery ? { method: tool.method, path, query: rest } : { method: tool.method, path, json: rest },
      );
      return async ? async.firstAnswer(response.data) : response.data;
    },
    ...(async?.checkStatus ? { checkStatus: async.checkStatus } : {}),
  };
}
