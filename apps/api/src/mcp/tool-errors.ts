import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '@broker/shared/logger';
import { answerForError } from '../http/answer-for-error';
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
    const answer = answerForError(err, logger, { requestId }, 'unhandled error in an MCP tool call');
    return problemResult(answer.problem, answer.headers);
  }
}
