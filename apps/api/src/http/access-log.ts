import type { RequestHandler } from 'express';
import { fixedFieldsLogger, type Logger } from '@broker/shared/logger';

/**
 * One line per request, written when the response is done or the client gave
 * up. Only the path is logged: query strings and headers may carry secrets.
 */
export function accessLog(logger: Logger): RequestHandler {
  // Fixed fields, none of them secret: no redaction pass on every request.
  const log = fixedFieldsLogger(logger);
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          agent: res.locals.agent?.id,
          // A long-poll whose client left is closed before its answer is written.
          aborted: !res.writableFinished || undefined,
        },
        'request',
      );
    });
    next();
  };
}
