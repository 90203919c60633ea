import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { problem, ProblemError } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import { isRedisUnavailable } from '../redis/unavailable';
import { problemToolError } from './results';

/**
 * A task operation's failure as a JSON-RPC error. A task-augmented
 * `tools/call` must answer a CreateTaskResult or an error: there is no task
 * (no job) to carry a tool error when the call is refused. `data` is the same
 * `{code, message, retryable, retryAt?, errors?}` a plain call's tool error
 * carries as `structuredContent.error`, so an agent reads one vocabulary.
 * A refusal of the caller's request (4xx) is `-32602` Invalid params, the
 * spec's code for a bad tool call; the broker unable to serve (429, 5xx) is
 * `-32603` Internal error, with `retryable`/`retryAt` in `data`.
 */
export function taskError(err: unknown, logger: Logger, requestId: string): McpError {
  if (err instanceof McpError) return err;
  if (err instanceof ProblemError) return problemError(err.problem, err.headers);
  if (isRedisUnavailable(err)) {
    logger.warn({ requestId, err: (err as Error).message }, 'redis unavailable');
    return problemError(problem('UNAVAILABLE', 'The job store is unavailable; try again shortly.'), { 'Retry-After': '1' });
  }
  logger.error({ requestId, err }, 'unhandled error in an MCP task request');
  return problemError(problem('INTERNAL', `Unexpected error. Quote request id ${requestId} when reporting it.`));
}

function problemError(p: ReturnType<typeof problem>, headers: Record<string, string> = {}): McpError {
  const code = p.status === 429 || p.status >= 500 ? ErrorCode.InternalError : ErrorCode.InvalidParams;
  return new McpError(code, `${p.code}: ${p.detail}`, problemToolError(p, headers));
}
