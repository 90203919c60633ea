import { agentPaths } from './agent-paths';
import { componentSchemas } from './components';
import { metaPaths } from './meta-paths';
import { operatorPaths } from './operator-paths';
import type { PathItem } from './operation';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, Record<string, unknown>> };
  security: Record<string, string[]>[];
}

const DESCRIPTION = [
  'Agents submit typed tool calls; workers call the external APIs with rate limits, retries and idempotency.',
  'Every error is `application/problem+json` (RFC 9457) with a stable `code`.',
].join(' ');

let built: OpenApiDocument | undefined;

/**
 * The OpenAPI 3.1 document of every route the API mounts. Schemas come from
 * the zod schemas the API validates with (see components.ts), so the document
 * cannot describe a body the API would refuse. Built once: it depends on no
 * configuration.
 */
export function openApiDocument(): OpenApiDocument {
  built ??= {
    openapi: '3.1.0',
    info: { title: 'Agent request broker', version: '0.1.0', description: DESCRIPTION },
    tags: [
      { name: 'agents', description: 'Tool calls as jobs (agent key)' },
      { name: 'mcp', description: 'The same tools over the Model Context Protocol (agent key, or an OAuth access token)' },
      { name: 'operators', description: 'Events, integrations, queues, metrics (admin token, or an agent key with the scope named)' },
      { name: 'webhooks', description: "Providers' webhooks, verified by signature" },
      { name: 'oauth', description: 'Connecting OAuth 2 integrations' },
      { name: 'meta', description: 'Probes and documentation' },
    ],
    paths: { ...agentPaths, ...operatorPaths, ...metaPaths },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        agentKey: { type: 'http', scheme: 'bearer', description: 'An agent key (`agents[].key`)' },
        mcpAccessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: '`/mcp` only, with `mcp.authorizationServer`: a JWT access token from that issuer' },
        adminToken: { type: 'http', scheme: 'bearer', description: "The operators' token (`admin.token`)" },
        adminBasic: { type: 'http', scheme: 'basic', description: 'Any user name; the admin token as password' },
      },
    },
    security: [{ agentKey: [] }],
  };
  return built;
}
