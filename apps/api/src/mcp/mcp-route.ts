import type { RequestHandler } from 'express';
import type { RedisKeys } from '@broker/redis/keys';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { ApiContext } from '../context';
import { clientGone } from '../http/client-gone';
import { agentOf } from '../http/locals';
import { createMcpServer } from './mcp-server';

/**
 * `POST /mcp`: MCP over Streamable HTTP, stateless. Every request gets its own
 * server and transport, built for the agent its bearer credential names
 * (mcpAuth runs first: an agent key, or with `mcp.authorizationServer` an OAuth
 * access token, whose scopes are then the token's and the agent's in common),
 * so any API instance can answer any request and nothing is kept between them. Answers stream as SSE, which carries progress notifications.
 * GET (a standalone SSE stream) and DELETE (ending a session) have nothing to
 * do without sessions: 405, which MCP clients expect from a stateless server.
 */
export function mcpEndpoint(ctx: ApiContext, { keys }: { keys: RedisKeys }): RequestHandler {
  return async (req, res) => {
    const agent = agentOf(res);
    const server = createMcpServer(ctx, agent, res.locals.requestId, keys);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const close = () => {
      void transport.close();
      void server.close();
    };
    res.on('close', close);
    // A client that left during the middleware before this handler would never be heard of again: no work for it.
    if (clientGone(req, res)) {
      close();
      return;
    }
    await server.connect(transport);
    // The transport rebuilds the request as a WHATWG Request from the Host header and answers a bare 400
    // (no problem body) to any Host its URL parser rejects or normalises ("ó", "a b"). Stateless and
    // without DNS-rebinding checks, it never reads the host, so it gets a fixed one.
    req.headers.host = 'mcp.invalid';
    await transport.handleRequest(req, res, req.body);
  };
}
