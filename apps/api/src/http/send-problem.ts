import type { Response } from 'express';
import { PROBLEM_CONTENT_TYPE, type Problem } from '@broker/shared/errors/problem';

/** Writes an RFC 9457 body; the one way any error leaves this API. */
export function sendProblem(res: Response, body: Problem, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}
