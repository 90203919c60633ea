import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { bearerToken, matchesSecret, sha256, unauthenticated, type AgentResolver } from './agent-auth';

/** Is `token` the admin token (any of its comma-separated values)? Constant time. */
export function adminTokenChecker(config: BrokerConfig, secrets: SecretsProvider): (token: string) => Promise<boolean> {
  return async (token) => {
    const name = config.admin?.token.secret;
    if (!name) return false;
    return matchesSecret(sha256(token), await secrets.get(name));
  };
}

/**
 * Operator routes (events, integrations, metrics): the admin token, or an
 * agent key holding `scope`. Sets `res.locals.operator` (`admin` or the agent
 * id) and, for agents, `res.locals.agent`.
 */
export function operatorAuth(isAdmin: (token: string) => Promise<boolean>, resolveAgent: AgentResolver, scope?: string): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw unauthenticated('Send the admin token or an agent key as "Authorization: Bearer <token>".');
    if (await isAdmin(token)) {
      res.locals.operator = 'admin';
      return next();
    }
    if (scope === undefined) throw unauthenticated('This route needs the admin token.');
    const agent = await resolveAgent(token);
    if (!agent) throw unauthenticated('The token is not valid.');
    if (!agent.hasScope(scope)) throw new ProblemError('FORBIDDEN', `This route needs the scope "${scope}".`);
    res.locals.agent = agent;
    res.locals.operator = agent.id;
    next();
  };
}

/** Routes for the admin token only. */
export function adminAuth(isAdmin: (token: string) => Promise<boolean>): RequestHandler {
  return operatorAuth(isAdmin, async () => undefined);
}
