/**
 * Same bound as the file provider's cache (this module does not import
 * provider.ts, which imports it: no cycle). @defaultValue 1000
 */
export const VAULT_SECRET_TTL_MS = 1000;

/** Where and how to read HashiCorp Vault's KV version 2 engine. */
export interface VaultSettings {
  /** e.g. `https://vault.internal:8200` */
  addr: string;
  token: string;
  /** The KV v2 mount. @defaultValue "secret" */
  mount?: string;
  /** Put before each secret's name, e.g. `broker/` reads `secret/data/broker/<NAME>`. @defaultValue "" */
  pathPrefix?: string;
  /** @defaultValue 2000 */
  timeoutMs?: number;
  /** For tests. */
  now?: () => number;
}

/**
 * One GET to Vault, made by the process's HTTP client: shared imports no HTTP
 * client, so each app passes the one it builds (through its egress proxy).
 * Resolves with whatever status came back; rejects only when no answer came,
 * with an error whose message carries neither the URL's secrets nor the token.
 */
export type VaultHttp = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<{ status: number; body: string }>;

/** Vault answered something other than a secret or a clean 404; the message names the secret, never a value. */
export class VaultError extends Error {
  override readonly name = 'VaultError';
}

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads `GET {addr}/v1/{mount}/data/{prefix}{name}` with `X-Vault-Token`; the
 * value is the `value` key of the secret (`vault kv put secret/broker/NAME value=…`).
 * A 404 (never written, or its latest version deleted) is an unset secret.
 *
 * Values are cached for at most a second, as with the file provider: a rotated
 * secret is live within the contract's 5 s, and 50 jobs starting at once do not
 * send Vault 50 reads (concurrent reads of one name share one request).
 */
export function vaultSecretsProvider(settings: VaultSettings, http: VaultHttp): { kind: string; get(name: string): Promise<string | undefined> } {
  const now = settings.now ?? Date.now;
  const base = settings.addr.replace(/\/+$/, '');
  const mount = (settings.mount ?? 'secret').replace(/^\/+|\/+$/g, '');
  const prefix = (settings.pathPrefix ?? '').replace(/^\/+/, '');
  const timeoutMs = settings.timeoutMs ?? 2000;
  const cache = new Map<string, { value: string | undefined; at: number }>();
  const inflight = new Map<string, Promise<string | undefined>>();

  async function read(name: string): Promise<string | undefined> {
    const path = `${prefix}${name}`.split('/').map(encodeURIComponent).join('/');
    const signal = AbortSignal.timeout(timeoutMs);
    let res: { status: number; body: string };
    try {
      res = await http(`${base}/v1/${mount}/data/${path}`, { 'X-Vault-Token': settings.token, accept: 'application/json' }, signal);
    } catch (err) {
      const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new VaultError(`cannot reach Vault to read secret ${name}: ${reason}`);
    }
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new VaultError(`Vault answered ${res.status} reading secret ${name}`);
    let body: { data?: { data?: Record<string, unknown> | null } } | undefined;
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      body = undefined;
    }
    const value = body?.data?.data?.value;
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new VaultError(`Vault secret ${name} has a "value" that is not a string`);
    return value.trim() || undefined;
  }

  return {
    kind: 'vault',
    async get(name) {
      if (!SECRET_NAME.test(name)) return undefined; // never a path
      const hit = cache.get(name);
      if (hit && now() - hit.at < VAULT_SECRET_TTL_MS) return hit.value;
      let pending = inflight.get(name);
      if (!pending) {
        pending = read(name)
          .then((value) => {
            cache.set(name, { value, at: now() });
            return value;
          })
          .finally(() => inflight.delete(name));
        inflight.set(name, pending);
      }
      return pending;
    },
  };
}
