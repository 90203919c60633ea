import { createHash } from 'node:crypto';
import type { AgentKeyConfig } from '@broker/shared/config/guardrails-schema';
import { splitSecretValues, type SecretsProvider } from './provider';

export const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Digests of the keys a secret value lists, by value: keys change on rotation only, requests come all the time. */
const digestsByValue = new Map<string, Buffer[]>();
/** Rotations leave old values behind; past this many the cache starts over. */
const MAX_CACHED_SECRET_VALUES = 256;

function digestsOfValue(secretValue: string): Buffer[] {
  let digests = digestsByValue.get(secretValue);
  if (!digests) {
    if (digestsByValue.size >= MAX_CACHED_SECRET_VALUES) digestsByValue.clear();
    digests = splitSecretValues(secretValue).map(sha256);
    digestsByValue.set(secretValue, digests);
  }
  return digests;
}

/** The digests of a comma-separated secret value's keys (none for an unset one). */
export function secretValueDigests(secretValue: string | undefined): Buffer[] {
  return secretValue === undefined ? [] : digestsOfValue(secretValue);
}

/**
 * The sha256 digests an agent's key may have: of each key its secret lists
 * (read now, so a rotation needs no restart), or those written in the config
 * (`{"sha256": …}`), so a presented key is compared as a digest either way.
 * Rejects when the secret cannot be read.
 */
export async function agentKeyDigests(key: AgentKeyConfig, secrets: SecretsProvider): Promise<Buffer[]> {
  if ('sha256' in key) return key.sha256.map((hex) => Buffer.from(hex, 'hex'));
  return secretValueDigests(await secrets.get(key.secret));
}

/** How the config names an agent's key, for logs: the secret's name, or that digests are configured. */
export function describeAgentKey(key: AgentKeyConfig): string {
  return 'sha256' in key ? `sha256 digest${key.sha256.length > 1 ? 's' : ''}` : `secret ${key.secret}`;
}
