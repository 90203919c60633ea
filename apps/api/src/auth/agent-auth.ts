import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { agentKeyDigests, describeAgentKey, secretValueDigests, sha256 } from '@broker/tools/secrets/agent-keys';
import { ProblemError } from '@broker/shared/errors/problem';
import type { AgentConfig } from '@broker/shared/config/schema';
import type { AgentKeyConfig } from '@broker/shared/config/guardrails-schema';
import type { Logger } from '@broker/shared/logger';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import { compileConnections, compileToolScopes } from './scopes';

export { sha256 };

/** Who is calling, as established by {@link agentAuth}. */
export interface AuthenticatedAgent {
  id: string;
  mayUseTool(tool: string): boolean;
  /** `agents[].connections`: may this agent act with this connection's credentials? */
  mayUseConnection(integration: string, connection: string): boolean;
  /** Exact scopes such as `events:read`. */
  hasScope(scope: string): boolean;
}

interface KnownAgent extends AuthenticatedAgent {
  key: AgentKeyConfig;
}

/** Constant-time: is `presented` (a sha256 digest) one of `candidates`? Every candidate is compared, no early exit. */
export function matchesDigest(presented: Buffer, candidates: readonly Buffer[]): boolean {
  let hit = false;
  for (const candidate of candidates) {
    if (timingSafeEqual(presented, candidate)) hit = true;
  }
  return hit;
}

/** Constant-time: is `presented` (a sha256 digest) one of the values of a comma-separated secret? */
export function matchesSecret(presented: Buffer, secretValue: string | undefined): boolean {
  return matchesDigest(presented, secretValueDigests(secretValue));
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
 * A key is a secret name resolved at each request, so a rotated key works
 * without a restart and a value may list several keys (old,new) during a
 * rotation; or the key's sha256 digest(s) written in the config
 * (`broker keys hash`), so no secret store holds it in clear. Either way the
 * presented key's digest is compared with every candidate, on digests of
 * equal length, with timingSafeEqual and no early exit, so neither the timing
 * nor the number of comparisons tells a caller which agent, or which prefix,
 * was close.
 */
export function agentResolver(agents: readonly AgentConfig[], secrets: SecretsProvider, logger: Logger): AgentResolver {
  const known: KnownAgent[] = agents.map((a) => {
    const scopes = new Set(a.scopes);
    return { id: a.id, key: a.key, mayUseTool: compileToolScopes(a.scopes), mayUseConnection: compileConnections(a.connections), hasScope: (s) => scopes.has(s) };
  });

  return async (token) => {
    const presented = sha256(token);
    // One agent's unreadable secret must not lock every other agent out.
    const digests = await Promise.allSettled(known.map((agent) => agentKeyDigests(agent.key, secrets)));
    let found: KnownAgent | undefined;
    known.forEach((agent, i) => {
      const candidates = digests[i]!;
      if (candidates.status === 'rejected') {
        logger.error({ agent: agent.id, key: describeAgentKey(agent.key), err: (candidates.reason as Error).message }, 'cannot read agent key');
        return;
      }
      if (matchesDigest(presented, candidates.value) && !found) found = agent;
    });
    return found && { id: found.id, mayUseTool: found.mayUseTool, mayUseConnection: found.mayUseConnection, hasScope: found.hasScope };
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
