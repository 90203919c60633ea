import type { DeclaredTool, IntegrationConfig } from '@broker/shared/config/schema';
import type { HttpRequest, RunnableTool } from '../types';
import { declaredAsync } from './declared-async';
import { describeDeclared } from './declared-descriptor';
import { withReference } from './declared-reference';
import { declaredVerify } from './declared-verify';
import { fillPath } from './fill-path';

/** A tool declared in the config file: method + path template + JSON Schemas (+ `reference`/`verify` for an unkeyed write). */
export function declaredTool(integrationName: string, integration: IntegrationConfig, tool: DeclaredTool): RunnableTool {
  const { descriptor, validateOutput } = describeDeclared(integrationName, integration, tool);
  const sendsQuery = tool.method === 'GET' || tool.method === 'DELETE';
  const async = tool.async ? declaredAsync(tool.name, tool.async) : undefined;
  return {
    ...descriptor,
    validateOutput,
    async run(input, ctx) {
      const { path, rest } = fillPath(tool.path, input as Record<string, unknown>);
      const request: HttpRequest = sendsQuery ? { method: tool.method, path, query: rest } : { method: tool.method, path, json: rest };
      const response = await ctx.http.request(withReference(request, tool.reference, ctx.jobId));
      return async ? async.firstAnswer(response.data) : response.data;
    },
    ...(tool.verify ? { verify: declaredVerify(tool.verify) } : {}),
    ...(async?.checkStatus ? { checkStatus: async.checkStatus } : {}),
  };
}
