import express, { type Request, type RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { limitJsonDepth } from './json-depth';

/** @defaultValue 1 MiB (docs/api.md#api-error-codes) */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * True when the request carries no body bytes: `Content-Length: 0` (fetch sends it on a bodiless POST),
 * or neither it nor `Transfer-Encoding` (as `curl -X POST` sends).
 */
const hasNoBody = (req: Request): boolean =>
  req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');

/**
 * express.json() silently skips bodies of other types, which would surface as
 * a confusing validation error; a body of the wrong type is 415 instead.
 * A request with no body at all passes (type-is counts `Content-Length: 0` as
 * a body, so that is tested here first), and the schema reports what is missing.
 */
const requireJsonType: RequestHandler = (req, _res, next) => {
  if (!hasNoBody(req) && req.is(JSON_TYPES) === false) {
    throw new ProblemError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
  }
  next();
};

/**
 * Parses a JSON body of at most 1 MiB, nested at most 64 levels. `strict: false` lets any JSON value
 * through so that `"x"` or `[]` gets a 422 naming the problem, not a 400
 * claiming the JSON is malformed.
 */
export function jsonBody(): RequestHandler[] {
  return [requireJsonType, express.json({ limit: MAX_BODY_BYTES, strict: false, type: JSON_TYPES }), limitJsonDepth];
}

/**
 * {@link jsonBody} for routes whose body may be left out entirely (approve,
 * deny): a request with no body bytes (`Content-Length: 0`, or neither it nor
 * `Transfer-Encoding`, as `curl -X POST` sends) skips the type check and
 * the parser; any body at all goes through both.
 */
export function optionalJsonBody(): RequestHandler[] {
  const parse = jsonBody();
  return parse.map(
    (step): RequestHandler =>
      (req, res, next) =>
        hasNoBody(req) ? next() : step(req, res, next),
  );
}
