import type { VaultHttp } from '../secrets/vault';
import { createHttpClient } from './http-client';
import type { EgressProxy } from './upstream-agents';

/** Vault's KV answers are small JSON documents; a larger one is not a secret. @defaultValue 1 MiB */
const MAX_VAULT_ANSWER_BYTES = 1024 * 1024;

/**
 * The requests of the Vault secrets provider (shared imports no HTTP client),
 * through the egress proxy unless NO_PROXY names Vault's host. Each call makes
 * one client: call it once per process, where the secrets provider is built.
 */
export function vaultHttp(options: { proxy?: EgressProxy | undefined } = {}): VaultHttp {
  const http = createHttpClient({ proxy: options.proxy, maxBytes: MAX_VAULT_ANSWER_BYTES });
  return async (url, headers, signal) => {
    try {
      const res = await http.get<string>(url, { headers, signal });
      return { status: res.status, body: typeof res.data === 'string' ? res.data : '' };
    } catch (err) {
      // An AxiosError holds the request's config, X-Vault-Token included: only the socket's code goes on.
      // eslint-disable-next-line preserve-caught-error -- the cause would carry the token
      throw new Error((err as { code?: string }).code ?? 'network error');
    }
  };
}
