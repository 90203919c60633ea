import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { problem, ProblemError } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import { isRedisUnavailable } from '../redis/unavailable';
import { problemResult } from './results';

/**
 * Runs a tool call and turns every failure into an MCP tool error
 * (`isError: true`) with the same code the REST API would answer, so an agent
 * reads one vocabulary whatever the transport. Like the REST error handler,
 * an unexpected error's message never reaches the client.
 */
export async function withToolErrors(logger: Logger, requestId: string, call: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ProblemError) return problemResult(err.problem, err.headers);
    if (isRedisUnavailable(err)) {
      logger.warn({ requestId, err: (err as Error).message }, 'redis unavailable');
      return problemResult(problem('UNAVAILABLE', 'The job store is unavailable; try again shortly.'), { 'Retry-After': '1' });
    }
    logger.error({ requestId, err }, 'unhandled error in an MCP tool call');
    return problemResult(problem('INTERNAL', `Unexpected error. Quote request id ${requestId} when reporting it.`));
  }
}
