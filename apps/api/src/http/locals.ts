import type { Response } from 'express';
import type { AuthenticatedAgent } from '../auth/agent-auth';

/*
 * What middleware leaves on `res.locals` for later handlers. Typed here so
 * that a handler reading `res.locals.agent` is checked by the compiler.
 */
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** Set by requestId() on every request. */
      requestId: string;
      /** Set by agentAuth() on authenticated routes. */
      agent?: AuthenticatedAgent;
      /** Set by operatorAuth(): `admin`, or the id of the agent whose scope allowed it. */
      operator?: string;
    }
  }
}

/** The caller of an authenticated route; a route mounted without agentAuth is a bug, hence the throw. */
export function agentOf(res: Response): AuthenticatedAgent {
  const agent = res.locals.agent;
  if (!agent) throw new Error('route is missing agentAuth()');
  return agent;
}
