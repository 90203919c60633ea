import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Problem } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import { answerForError } from '../http/answer-for-error';
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
  const answer = answerForError(err, logger, { requestId }, 'unhandled error in an MCP task request');
  return problemError(answer.problem, answer.headers);
}

function problemError(p: Problem, headers: Record<string, string> = {}): McpError {
  const code = p.status === 429 || p.status >= 500 ? ErrorCode.InternalError : ErrorCode.InvalidParams;
  return new McpError(code, `${p.code}: ${p.detail}`, problemToolError(p, headers));
}
