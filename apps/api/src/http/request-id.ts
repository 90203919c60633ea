import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

/** A caller's id is echoed into logs and headers, so it must be short and inert. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Accepts the caller's `X-Request-Id` (a gateway's trace id, say) when it is
 * sane, else makes one, and echoes it, so one id ties a client report to our
 * log line.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}
