import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vaultSecretsProvider, type VaultHttp, type VaultSettings } from './vault';

/**
 * Resolves a secret by name at each use, so a rotated value takes effect
 * without a restart. Implementations never log or cache values longer than
 * {@link FILE_SECRET_TTL_MS}.
 */
export interface SecretsProvider {
  readonly kind: string;
  /** The raw value, or undefined when the secret is not set. */
  get(name: string): Promise<string | undefined>;
}

export type SecretsSettings = { provider: 'env'; env: Readonly<Record<string, string | undefined>> } | { provider: 'file'; dir: string } | ({ provider: 'vault' } & VaultSettings);

/** A value may hold several secrets separated by commas (rotation): each is valid. */
export function splitSecretValues(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

export class MissingSecretError extends Error {
  override readonly name = 'MissingSecretError';
  constructor(readonly secretName: string) {
    super(`secret "${secretName}" is not set`);
  }
}

/** Reads `env[name]`; the env object is read at each call. */
export function envSecretsProvider(env: Readonly<Record<string, string | undefined>>): SecretsProvider {
  return {
    kind: 'env',
    async get(name) {
      const value = env[name];
      return value === undefined || value === '' ? undefined : value;
    },
  };
}

/**
 * Re-reads files at most once a second: the contract wants a rotated secret live
 * within 5 s, and a file read per request would sit on the hot path.
 */
export const FILE_SECRET_TTL_MS = 1000;

export function fileSecretsProvider(dir: string, now: () => number = Date.now): SecretsProvider {
  const cache = new Map<string, { value: string | undefined; at: number }>();
  return {
    kind: 'file',
    async get(name) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined; // never a path
      const hit = cache.get(name);
      if (hit && now() - hit.at < FILE_SECRET_TTL_MS) return hit.value;
      let value: string | undefined;
      try {
        value = (await readFile(join(dir, name), 'utf8')).trim() || undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        value = undefined;
      }
      cache.set(name, { value, at: now() });
      return value;
    },
  };
}

/** What a provider may need from the process that builds it. */
export interface SecretsProviderDeps {
  /** Required with `provider: 'vault'`: `vaultHttp(...)` of `@broker/tools`, built with the process's egress proxy. */
  vaultHttp?: VaultHttp;
}

export function createSecretsProvider(settings: SecretsSettings, deps: SecretsProviderDeps = {}): SecretsProvider {
  switch (settings.provider) {
    case 'file':
      return fileSecretsProvider(settings.dir);
    case 'vault':
      if (!deps.vaultHttp) throw new Error('the vault secrets provider needs an HTTP client: createSecretsProvider(settings, { vaultHttp })');
      return vaultSecretsProvider(settings, deps.vaultHttp);
    case 'env':
      return envSecretsProvider(settings.env);
  }
}

/** Resolves a required secret or throws {@link MissingSecretError}. */
export async function requireSecret(provider: SecretsProvider, name: string): Promise<string> {
  const value = await provider.get(name);
  if (value === undefined) throw new MissingSecretError(name);
  return value;
}
