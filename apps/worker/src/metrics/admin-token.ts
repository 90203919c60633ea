import { timingSafeEqual } from 'node:crypto';
import { agentKeyDigests, secretValueDigests, sha256 } from '@broker/tools/secrets/agent-keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { SecretsProvider } from '@broker/tools/secrets/provider';

/**
 * Is `token` the admin token (any of its comma-separated values)? The secret is
 * resolved at each call, so a rotated token works without a restart. Digests
 * of equal length are compared with timingSafeEqual and no early exit, as the
 * api does.
 */
export function adminTokenChecker(config: BrokerConfig, secrets: SecretsProvider): (token: string) => Promise<boolean> {
  return async (token) => {
    const name = config.admin?.token.secret;
    if (!name) return false;
    const presented = sha256(token);
    let hit = false;
    for (const candidate of secretValueDigests(await secrets.get(name))) {
      if (timingSafeEqual(presented, candidate)) hit = true;
    }
    return hit;
  };
}

/**
 * Is `token` one of the agents' keys? Only so `/metrics` can answer an agent
 * 403 rather than 401: the key is valid, it just does not reach the metrics.
 * Same comparisons as above, over every agent; an unreadable secret is skipped.
 */
export function agentKeyChecker(config: BrokerConfig, secrets: SecretsProvider): (token: string) => Promise<boolean> {
  return async (token) => {
    const presented = sha256(token);
    const digests = await Promise.allSettled(config.agents.map((agent) => agentKeyDigests(agent.key, secrets)));
    let hit = false;
    for (const candidates of digests) {
      for (const candidate of candidates.status === 'fulfilled' ? candidates.value : []) {
        if (timingSafeEqual(presented, candidate)) hit = true;
      }
    }
    return hit;
  };
}

// RFC 6750 §2.1: the scheme is case-insensitive; b64token characters only.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function bearerToken(header: string | undefined): string | undefined {
  return BEARER.exec(header ?? '')?.[1];
}
