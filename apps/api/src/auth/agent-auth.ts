import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ProblemError, splitSecretValues, type AgentConfig, type Logger, type SecretsProvider } from '@broker/shared';
import { compileToolScopes } from './scopes';

/** Who is calling, as established by {@link agentAuth}. */
export interface AuthenticatedAgent {
  id: string;
  mayUseTool(tool: string): boolean;
  /** Exact scopes such as `events:read`. */
  hasScope(scope: string): boolean;
}

interface KnownAgent extends AuthenticatedAgent {
  secretName: string;
}

export const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Digests of the configured keys, by secret value: keys change on rotation only, requests come all the time. */
const keyDigests = new Map<string, Buffer[]>();
/** Rotations leave old values behind; past this many the cache starts over. */
const MAX_CACHED_SECRET_VALUES = 256;

function digestsOf(secretValue: string): Buffer[] {
  let digests = keyDigests.get(secretValue);
  if (!digests) {
    if (keyDigests.size >= MAX_CACHED_SECRET_VALUES) keyDigests.clear();
    digests = splitSecretValues(secretValue).map(sha256);
    keyDigests.set(secretValue, digests);
  }
  return digests;
}

/** Constant-time: is `presented` (a sha256 digest) one of the values of a comma-separated secret? */
export function matchesSecret(presented: Buffer, secretValue: string | undefined): boolean {
  let hit = false;
  for (const candidate of secretValue === undefined ? [] : digestsOf(secretValue)) {
    if (timingSafeEqual(presented, candidate)) hit = true;
  }
  return hit;
}

// RFC 6750 §2.1: the scheme is case-insensitive; b64token characters only.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The bearer token of a request, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return BEARER.exec(header ?? '')?.[1];
}

export function unauthenticated(detail: string): ProblemError {
  return new ProblemError('UNAUTHENTICATED', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/** Resolves the agent a bearer token belongs to, or undefined. */
export type AgentResolver = (token: string) => Promise<AuthenticatedAgent | undefined>;

/**
 * Authenticates `Authorization: Bearer <key>` against every agent's key.
 *
 * Keys are secret names resolved at each request, so a rotated key works
 * without a restart, and a value may list several keys (old,new) during a
 * rotation. Every candidate is compared, on sha256 digests of equal length,
 * with timingSafeEqual and no early exit, so neither the timing nor the
 * number of comparisons tells a caller which agent, or which prefix, was close.
 */
export function agentResolver(agents: readonly AgentConfig[], secrets: SecretsProvider, logger: Logger): AgentResolver {
  const known: KnownAgent[] = agents.map((a) => {
    const scopes = new Set(a.scopes);
    return { id: a.id, secretName: a.key.secret, mayUseTool: compileToolScopes(a.scopes), hasScope: (s) => scopes.has(s) };
  });

  return async (token) => {
    const presented = sha256(token);
    // One agent's unreadable secret must not lock every other agent out.
    const values = await Promise.allSettled(known.map((agent) => secrets.get(agent.secretName)));
    let found: KnownAgent | undefined;
    known.forEach((agent, i) => {
      const value = values[i];
      if (value?.status === 'rejected') {
        logger.error({ agent: agent.id, secret: agent.secretName, err: (value.reason as Error).message }, 'cannot read agent key');
        return;
      }
      if (matchesSecret(presented, value?.value) && !found) found = agent;
    });
    return found && { id: found.id, mayUseTool: found.mayUseTool, hasScope: found.hasScope };
  };
}

export function agentAuth(resolveAgent: AgentResolver): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw unauthenticated('Send the agent key as "Authorization: Bearer <key>".');
    const agent = await resolveAgent(token);
    if (!agent) throw unauthenticated('The agent key is not valid.');
    res.locals.agent = agent;
    next();
  };
}
