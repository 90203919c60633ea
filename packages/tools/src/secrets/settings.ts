import type { SecretsSettings } from './provider';

/**
 * Turns the secrets variables of an environment (handed over by an app's
 * config.ts, the only place that reads the environment) into settings,
 * listing every problem:
 * - `SECRETS_PROVIDER`: `env` (default), `file` or `vault`;
 * - `file`: `SECRETS_DIR`;
 * - `vault`: `VAULT_ADDR`, `VAULT_TOKEN`, optional `VAULT_MOUNT` (default
 *   `secret`) and `VAULT_PATH_PREFIX` (e.g. `broker/`).
 */
export function secretsSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): {
  settings: SecretsSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const provider = env.SECRETS_PROVIDER || 'env';
  switch (provider) {
    case 'env':
      return { settings: { provider: 'env', env }, problems };
    case 'file':
      if (!env.SECRETS_DIR) problems.push('SECRETS_DIR: required when SECRETS_PROVIDER=file');
      return { settings: { provider: 'file', dir: env.SECRETS_DIR ?? '' }, problems };
    case 'vault': {
      const addr = env.VAULT_ADDR ?? '';
      if (!addr) problems.push('VAULT_ADDR: required when SECRETS_PROVIDER=vault (e.g. https://vault.internal:8200)');
      else if (!/^https?:\/\/[^/]/.test(addr)) problems.push(`VAULT_ADDR: "${addr}" is not an http(s) URL`);
      if (!env.VAULT_TOKEN) problems.push('VAULT_TOKEN: required when SECRETS_PROVIDER=vault');
      const mount = env.VAULT_MOUNT || 'secret';
      if (!/^[A-Za-z0-9_.\-/]+$/.test(mount)) problems.push(`VAULT_MOUNT: "${mount}" is not a mount path`);
      const pathPrefix = env.VAULT_PATH_PREFIX ?? '';
      if (pathPrefix && !/^[A-Za-z0-9_.\-/]+$/.test(pathPrefix)) problems.push('VAULT_PATH_PREFIX: letters, digits, _ . - / only');
      return { settings: { provider: 'vault', addr, token: env.VAULT_TOKEN ?? '', mount, pathPrefix }, problems };
    }
    default:
      problems.push(`SECRETS_PROVIDER: "${provider}" is not one of env, file, vault`);
      return { settings: { provider: 'env', env }, problems };
  }
}
