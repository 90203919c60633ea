import { join } from 'node:path';
import { startReadyChild } from '../helpers/ready-child';

/** What a test asks mcp-oauth-issuer-server.mjs to sign; a claim set to null is removed. */
export interface SignRequest {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** @defaultValue "k1" */
  kid?: string;
  /** Seconds from now; negative for a token already expired. @defaultValue 3600 */
  expiresIn?: number;
  /** Sign with a key the issuer never published (same kid possible). */
  stranger?: boolean;
}

export interface TestIssuer {
  /** The issuer identifier (`iss`), `http://127.0.0.1:<port>`. */
  url: string;
  sign(request?: SignRequest): Promise<string>;
  /** Adds a signing key to the JWKS, as a key rotation does. */
  rotate(alg: string, kid: string): Promise<void>;
  /** Requests served so far, by path. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Starts test/api/mcp-oauth-issuer-server.mjs (oauth2-mock-server, ESM-only) as a child process. */
export async function startTestIssuer(timeoutMs = 10_000): Promise<TestIssuer> {
  const { port, stop } = await startReadyChild(join(__dirname, 'mcp-oauth-issuer-server.mjs'), 'test issuer', timeoutMs);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    sign: async (request = {}) => (await post<{ token: string }>(`${url}/__sign`, request)).token,
    rotate: async (alg, kid) => void (await post(`${url}/__rotate`, { alg, kid })),
    counts: async () => ((await (await fetch(`${url}/__stats`)).json()) as { counts: Record<string, number> }).counts,
    close: stop,
  };
}
