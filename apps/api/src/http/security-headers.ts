import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * helmet's default headers, worked out once at start-up: with its default
 * options they are the same on every answer, so a request pays for setting
 * them, not for helmet's eleven middlewares deciding them again.
 */
export function securityHeaders(): RequestHandler {
  const set = new Map<string, string>();
  const removed = new Set<string>();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.set(name, String(value));
      removed.delete(name.toLowerCase());
    },
    removeHeader(name: string) {
      removed.add(name.toLowerCase());
    },
  };
  let done = false;
  helmet()({ headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, () => {
    done = true;
  });
  // helmet's defaults are synchronous; anything else would be a new helmet worth a look.
  if (!done) throw new Error('helmet did not finish synchronously');
  const headers = [...set];
  const unset = [...removed];

  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    for (const name of unset) res.removeHeader(name);
    next();
  };
}
