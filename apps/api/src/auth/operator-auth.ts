import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { bearerToken, matchesSecret, sha256, unauthenticated, type AgentResolver } from './agent-auth';

/** The admin token's secret could not be read (Vault down, an unreadable file): 503, never a 500 or a 401 that blames the token. */
function adminTokenUnreadable(): ProblemError {
  return new ProblemError('UNAVAILABLE', 'The admin token cannot be read from the secrets provider right now; try again shortly.', undefined, { 'Retry-After': '5' });
}

/**
 * Is `token` the admin token (any of its comma-separated values)? Constant
 * time. Rejects with a 503 problem when the secret cannot be read: callers
 * that also take agent keys go on to them (see checkAdmin).
 */
export function adminTokenChecker(config: BrokerConfig, secrets: SecretsProvider): (token: string) => Promise<boolean> {
  return async (token) => {
    const name = config.admin?.token.secret;
    if (!name) return false;
    const value = await secrets.get(name).catch(() => {
      throw adminTokenUnreadable();
    });
    return matchesSecret(sha256(token), value);
  };
}

/**
 * The admin check for routes that also take agent keys: an unreadable admin
 * secret must not lock agents out (as one agent's unreadable key does not lock
 * out the others), so it is kept aside and answered only when no agent matched.
 */
export async function checkAdmin(isAdmin: (token: string) => Promise<boolean>, token: string): Promise<{ admin: boolean; unreadable?: ProblemError }> {
  try {
    return { admin: await isAdmin(token) };
  } catch (err) {
    if (err instanceof ProblemError && err.problem.code === 'UNAVAILABLE') return { admin: false, unreadable: err };
    throw err;
  }
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
    const { admin, unreadable } = await checkAdmin(isAdmin, token);
    if (admin) {
      res.locals.operator = 'admin';
      return next();
    }
    if (scope === undefined) throw unreadable ?? unauthenticated('This route needs the admin token.');
    const agent = await resolveAgent(token);
    if (!agent) throw unreadable ?? unauthenticated('The token is not valid.');
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
