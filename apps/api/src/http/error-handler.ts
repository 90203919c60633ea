import type { ErrorRequestHandler } from 'express';
import { problem, ProblemError } from '@broker/shared/errors/problem';
import type { ApiErrorCode } from '@broker/shared/errors/codes';
import type { Logger } from '@broker/shared/logger';
import { isRedisUnavailable } from '../redis/unavailable';
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
 * Bad input is the client's (4xx, never logged as an error); an unreachable
 * Redis is an outage the client should wait out (503 + Retry-After); anything
 * else is our bug (500, logged with the request id the client was given).
 * Messages of unexpected errors never reach the client: they may hold
 * internals or secrets.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a problem body; Express's default handler closes the socket.
      next(err);
      return;
    }
    const requestId = res.locals.requestId;

    if (err instanceof ProblemError) {
      sendProblem(res, err.problem, err.headers);
      return;
    }
    const asClientError = err instanceof Error ? clientError(err as HttpError) : undefined;
    if (asClientError) {
      sendProblem(res, problem(asClientError.code, asClientError.detail));
      return;
    }
    if (isRedisUnavailable(err)) {
      logger.warn({ requestId, err: (err as Error).message }, 'redis unavailable');
      sendProblem(res, problem('UNAVAILABLE', 'The job store is unavailable; try again shortly.'), { 'Retry-After': '1' });
      return;
    }
    logger.error({ requestId, err, method: req.method, path: req.path }, 'unhandled error');
    sendProblem(res, problem('INTERNAL', `Unexpected error. Quote request id ${requestId} when reporting it.`));
  };
}
