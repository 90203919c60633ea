import type { ErrorRequestHandler } from 'express';
import { problem } from '@broker/shared/errors/problem';
import type { ApiErrorCode } from '@broker/shared/errors/codes';
import type { Logger } from '@broker/shared/logger';
import { answerForError } from './answer-for-error';
import { sendProblem } from './send-problem';

/** body-parser (and http-errors) mark their errors with `type`/`status`; nothing else does. */
interface HttpError extends Error {
  status?: number;
  type?: string;
  expose?: boolean;
}

const BODY_ERRORS: Record<string, { code: ApiErrorCode; detail: string }> = {
  'entity.parse.failed': { code: 'INVALID_JSON', detail: 'The request body is not valid JSON.' },
  'entity.too.large': { code: 'PAYLOAD_TOO_LARGE', detail: 'The request body is larger than 1 MiB.' },
  'encoding.unsupported': { code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'Unsupported Content-Encoding.' },
  'charset.unsupported': { code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'JSON must be sent as UTF-8.' },
};

function clientError(err: HttpError): { code: ApiErrorCode; detail: string } | undefined {
  const known = err.type ? BODY_ERRORS[err.type] : undefined;
  if (known) return known;
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.expose !== false) {
    if (err.status === 413) return BODY_ERRORS['entity.too.large'];
    if (err.status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'Unsupported media type.' };
    // http-errors' messages are written for clients ("URI malformed", "request aborted").
    return { code: 'BAD_REQUEST', detail: err.message };
  }
  return undefined;
}

/**
 * The last middleware: every error leaves as `application/problem+json`.
 * Bad input is the client's (4xx, never logged as an error); the rest is
 * {@link answerForError}, as on MCP.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a problem body; Express's default handler closes the socket.
      next(err);
      return;
    }
    // body-parser's own errors (a ProblemError carries no `type` or `status`).
    const asClientError = err instanceof Error ? clientError(err as HttpError) : undefined;
    if (asClientError) {
      sendProblem(res, problem(asClientError.code, asClientError.detail));
      return;
    }
    const answer = answerForError(err, logger, { requestId: res.locals.requestId, method: req.method, path: req.path }, 'unhandled error');
    sendProblem(res, answer.problem, answer.headers);
  };
}
