import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import { bearerToken, unauthenticated, type AgentResolver } from '../auth/agent-auth';
import { checkAdmin } from '../auth/operator-auth';

const HOW = 'Send it as "Authorization: Bearer <token>".';

/**
 * `/metrics` takes the admin token only. No token, or one that is neither the
 * admin token nor an agent's key, is 401; a valid agent key is 403: the caller
 * is known, it just may not read the metrics.
 */
export function metricsAuth(isAdmin: (token: string) => Promise<boolean>, resolveAgent: AgentResolver): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw unauthenticated(`/metrics needs the admin token. ${HOW}`);
    const { admin, unreadable } = await checkAdmin(isAdmin, token);
    if (admin) {
      res.locals.operator = 'admin';
      return next();
    }
    if (await resolveAgent(token)) throw new ProblemError('FORBIDDEN', 'Metrics need the admin token; an agent key cannot read them.');
    throw unreadable ?? unauthenticated(`The token is not the admin token, which /metrics needs. ${HOW}`);
  };
}
