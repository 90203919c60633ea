import { createHash, timingSafeEqual } from 'node:crypto';
import { splitSecretValues, type BrokerConfig, type SecretsProvider } from '@broker/shared';

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Is `token` the admin token (any of its comma-separated values)? The secret is
 * resolved at each call, so a rotated token works without a restart. Digests
 * of equal length are compared with timingSafeEqual and no early exit, as the
 * api does (apps share no code, so the few lines are repeated here).
 */
export function adminTokenChecker(config: BrokerConfig, secrets: SecretsProvider): (token: string) => Promise<boolean> {
  return async (token) => {
    const name = config.admin?.token.secret;
    if (!name) return false;
    const presented = sha256(token);
    let hit = false;
    for (const candidate of splitSecretValues(await secrets.get(name))) {
      if (timingSafeEqual(presented, sha256(candidate))) hit = true;
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
    const values = await Promise.allSettled(config.agents.map((agent) => secrets.get(agent.key.secret)));
    let hit = false;
    for (const value of values) {
      for (const candidate of value.status === 'fulfilled' ? splitSecretValues(value.value) : []) {
        if (timingSafeEqual(presented, sha256(candidate))) hit = true;
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
