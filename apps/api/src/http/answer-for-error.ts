import { problem, ProblemError, type Problem } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import { isRedisUnavailable } from '../redis/unavailable';

export interface ErrorAnswer {
  problem: Problem;
  headers?: Record<string, string>;
}

/**
 * What a client is told of a failure, whatever the transport (REST, an MCP
 * tool call, an MCP task request): a refusal answers its own problem; an
 * unreachable Redis is an outage to wait out (503 + Retry-After, logged as a
 * warning); anything else is our bug (500, logged with the request id the
 * client is given). Messages of unexpected errors never reach the client:
 * they may hold internals or secrets.
 */
export function answerForError(err: unknown, logger: Logger, context: { requestId: string; [field: string]: unknown }, unhandled: string): ErrorAnswer {
  if (err instanceof ProblemError) return { problem: err.problem, headers: err.headers };
  if (isRedisUnavailable(err)) {
    logger.warn({ requestId: context.requestId, err: (err as Error).message }, 'redis unavailable');
    return { problem: problem('UNAVAILABLE', 'The job store is unavailable; try again shortly.'), headers: { 'Retry-After': '1' } };
  }
  logger.error({ ...context, err }, unhandled);
  return { problem: problem('INTERNAL', `Unexpected error. Quote request id ${context.requestId} when reporting it.`) };
}
