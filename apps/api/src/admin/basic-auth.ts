import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';

/**
 * `WWW-Authenticate` of a refused board request: a browser shows its login
 * dialog only for the Basic scheme (RFC 7617; the charset says how the
 * password is encoded).
 */
export const BASIC_CHALLENGE = 'Basic realm="broker", charset="UTF-8"';

/** The password of `Authorization: Basic <base64(user:password)>`, or undefined. */
export function basicPassword(header: string | undefined): string | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * HTTP Basic auth for pages a browser opens (Bull Board): any user name, the
 * admin token as password, checked with the api's constant-time comparison
 * against the secret as it is now (a rotated token works at once).
 */
export function adminBasicAuth(isAdmin: (token: string) => Promise<boolean>): RequestHandler {
  return async (req, res, next) => {
    const password = basicPassword(req.get('authorization'));
    if (password === undefined || password === '' || !(await isAdmin(password))) {
      throw new ProblemError('UNAUTHENTICATED', 'Sign in with any user name and the admin token as password.', undefined, {
        'WWW-Authenticate': BASIC_CHALLENGE,
      });
    }
    res.locals.operator = 'admin';
    next();
  };
}
