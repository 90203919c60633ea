import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ProblemError, splitSecretValues, type AgentConfig, type Logger, type SecretsProvider } from '@broker/shared';
import { compileToolScopes } from './scopes';

/** Who is calling, as established by {@link agentAuth}. */
export interface AuthenticatedAgent {
  id: string;
  mayUseTool(tool: string): boolean;
}

interface KnownAgent extends AuthenticatedAgent {
  secretName: string;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

// RFC 6750 §2.1: the scheme is case-insensitive; b64token characters only.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function unauthenticated(detail: string): ProblemError {
  return new ProblemError('UNAUTHENTICATED', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/**
 * Authenticates `Authorization: Bearer <key>` against every agent's key.
 *
 * Keys are secret names resolved at each request, so a rotated key works
 * without a restart, and a value may list several keys (old,new) during a
 * rotation. Every candidate is compared, on sha256 digests of equal length,
 * with timingSafeEqual and no early exit, so neither the timing nor the
 * number of comparisons tells a caller which agent, or which prefix, was close.
 */
export function agentAuth(agents: readonly AgentConfig[], secrets: SecretsProvider, logger: Logger): RequestHandler {
  const known: KnownAgent[] = agents.map((a) => ({
    id: a.id,
    secretName: a.key.secret,
    mayUseTool: compileToolScopes(a.scopes),
  }));

  return async (req, res, next) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match?.[1]) throw unauthenticated('Send the agent key as "Authorization: Bearer <key>".');
    const presented = sha256(match[1]);

    // One agent's unreadable secret must not lock every other agent out.
    const values = await Promise.allSettled(known.map((agent) => secrets.get(agent.secretName)));
    let found: KnownAgent | undefined;
    known.forEach((agent, i) => {
      const value = values[i];
      if (value?.status === 'rejected') {
        logger.error({ agent: agent.id, secret: agent.secretName, err: (value.reason as Error).message }, 'cannot read agent key');
        return;
      }
      for (const candidate of splitSecretValues(value?.value)) {
        if (timingSafeEqual(presented, sha256(candidate)) && !found) found = agent;
      }
    });
    if (!found) throw unauthenticated('The agent key is not valid.');

    res.locals.agent = { id: found.id, mayUseTool: found.mayUseTool };
    next();
  };
}
