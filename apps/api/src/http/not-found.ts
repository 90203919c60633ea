import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';

/** Mounted after every route, so unknown paths get a problem body rather than Express's HTML. */
export function notFound(): RequestHandler {
  return (req) => {
    throw new ProblemError('NOT_FOUND', `No route for ${req.method} ${req.path}.`);
  };
}

/** For a known path with an unsupported method; RFC 9110 §15.5.6 requires `Allow`. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  return (req) => {
    throw new ProblemError('METHOD_NOT_ALLOWED', `${req.method} is not supported here.`, undefined, {
      Allow: allowed.join(', '),
    });
  };
}
