import { isLoopbackHostname } from '@broker/shared/config/mcp-schema';
import type { Logger } from '@broker/shared/logger';
import { createHttpClient, type EgressProxy } from '@broker/tools/http';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose' with { 'resolution-mode': 'import' };
import { IssuerUnavailableError } from './issuer-unavailable-error';
import { loadJose, type Jose } from './jose';

/** Tunables of {@link IssuerKeys}; the defaults suit production, tests shorten them. */
export interface IssuerKeysOptions {
  /**
   * How long a request waits for a refresh it needs; past it, the request gets
   * {@link IssuerUnavailableError} (503) while the refresh goes on, so a slow
   * issuer still fills the cache for the requests after it.
   * @defaultValue 1500
   */
  waitMs: number;
  /** Deadline of one refresh: the issuer's metadata (the first time) and its JWKS together. @defaultValue 10000 */
  timeoutMs: number;
  /** A fetched JWKS is used this long; the next token after it fetches again. @defaultValue 600000 (10 min) */
  maxAgeMs: number;
  /**
   * A token whose `kid` is not in the JWKS fetches it again (the issuer may have
   * rotated its keys), but at most once per this long, so tokens with made-up
   * `kid`s cannot make the broker hammer the issuer.
   * @defaultValue 30000
   */
  cooldownMs: number;
  /** After a failed refresh, requests that need one answer 503 without trying again for this long. @defaultValue 2000 */
  failureHoldMs: number;
  /** @defaultValue Date.now */
  now: () => number;
}

export const ISSUER_KEYS_DEFAULTS: IssuerKeysOptions = {
  waitMs: 1500,
  timeoutMs: 10_000,
  maxAgeMs: 10 * 60_000,
  cooldownMs: 30_000,
  failureHoldMs: 2000,
  now: Date.now,
};

/** Metadata documents and key sets are small; anything larger is not one. @defaultValue 512 KiB */
const MAX_DOCUMENT_BYTES = 512 * 1024;

/** jose's resolver over one fetched key set. */
type GetKey = ReturnType<typeof Jose.createLocalJWKSet>;
/** A public key as WebCrypto holds it (the api compiles without the DOM lib that names the type). */
type PublicKey = Awaited<ReturnType<GetKey>>;

/**
 * Where an issuer's metadata may be, in the order the MCP authorization spec
 * tries them: RFC 8414 §3.1 (`/.well-known/oauth-authorization-server`
 * inserted before the issuer's path), then OpenID Connect Discovery 1.0 §4
 * (inserted, then appended, for an issuer with a path).
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const at = (wellKnown: string) => `${url.origin}/.well-known/${wellKnown}${path}`;
  return path === ''
    ? [at('oauth-authorization-server'), at('openid-configuration')]
    : [at('oauth-authorization-server'), at('openid-configuration'), `${url.origin}${path}/.well-known/openid-configuration`];
}

/** https, or http on a loopback host, as for the issuer itself. */
function acceptableUrl(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHostname(url.hostname));
  } catch {
    return false;
  }
}

/**
 * The signing keys of one authorization server, for jose's `jwtVerify`.
 *
 * jose's `createRemoteJWKSet` would fetch with `fetch`, around the egress proxy
 * and every other rule of the product's one HTTP client; so the metadata and
 * the JWKS are read here through `createHttpClient` (axios: egress proxy,
 * NO_PROXY, size cap, no redirects) and handed to jose's `createLocalJWKSet`.
 * The same policy as createRemoteJWKSet: the JWKS is cached ({@link IssuerKeysOptions.maxAgeMs}),
 * fetched again for an unknown `kid` at most once per cooldown, and one fetch
 * at a time serves every request waiting for it. When a refresh of a stale set
 * fails, the stale set keeps verifying: an issuer's outage should not lock out
 * tokens signed by keys already known.
 */
export class IssuerKeys {
  private readonly options: IssuerKeysOptions;
  private readonly http: ReturnType<typeof createHttpClient>;
  private jwksUri: string | undefined;
  private current: { getKey: GetKey; fetchedAt: number } | undefined;
  private refreshing: Promise<void> | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private failure: { at: number; error: IssuerUnavailableError } | undefined;

  constructor(
    private readonly issuer: string,
    private readonly logger: Logger,
    options: Partial<IssuerKeysOptions> & { proxy?: EgressProxy | undefined } = {},
  ) {
    const { proxy, ...tunables } = options;
    this.options = { ...ISSUER_KEYS_DEFAULTS, ...tunables };
    this.http = createHttpClient({ proxy, maxBytes: MAX_DOCUMENT_BYTES });
  }

  /**
   * jose's key resolver: the issuer's public key for a token's protected
   * header. Throws jose's `JWKSNoMatchingKey` (and its other JWKS errors) for a
   * token no key matches, {@link IssuerUnavailableError} when no key set can be had.
   */
  readonly keyFor = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<PublicKey> => {
    const jose = await loadJose();
    if (!this.current || this.options.now() - this.current.fetchedAt >= this.options.maxAgeMs) {
      try {
        await this.awaitRefresh();
      } catch (err) {
        if (!this.current) throw err;
        // Logged once per failed refresh, in fetchKeys.
      }
    }
    try {
      return await this.current!.getKey(header, token);
    } catch (err) {
      const unknownKid = err instanceof jose.errors.JWKSNoMatchingKey;
      if (!unknownKid || this.options.now() - this.lastAttemptAt < this.options.cooldownMs) throw err;
    }
    await this.awaitRefresh();
    return this.current!.getKey(header, token);
  };

  /** Joins (or starts) the refresh, waiting at most {@link IssuerKeysOptions.waitMs}. */
  private async awaitRefresh(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new IssuerUnavailableError(`no keys from ${this.issuer} within ${this.options.waitMs} ms (still fetching)`)), this.options.waitMs);
      timer.unref();
    });
    try {
      // race() subscribes to the refresh, so its failure after the wait is handled (and logged in fetchKeys).
      await Promise.race([this.refresh(), waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  private refresh(): Promise<void> {
    return (this.refreshing ??= this.fetchKeys().finally(() => {
      this.refreshing = undefined;
    }));
  }

  private async fetchKeys(): Promise<void> {
    const started = this.options.now();
    if (this.failure && started - this.failure.at < this.options.failureHoldMs) throw this.failure.error;
    this.lastAttemptAt = started;
    const jose = await loadJose();
    // One deadline for the whole refresh: axios' `timeout` is an idle timer, which a trickling answer never trips.
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      this.jwksUri ??= await this.discover(signal);
      const jwks = (await this.getJson(this.jwksUri, signal, 'JWKS', { missingOk: false }))!;
      let getKey: GetKey;
      try {
        getKey = jose.createLocalJWKSet(jwks as unknown as JSONWebKeySet);
      } catch (err) {
        throw new IssuerUnavailableError(`the JWKS at ${this.jwksUri} is not a JSON Web Key Set`, { cause: err });
      }
      this.current = { getKey, fetchedAt: this.options.now() };
      this.failure = undefined;
      this.logger.info({ issuer: this.issuer, jwksUri: this.jwksUri }, "fetched the authorization server's JWKS");
    } catch (err) {
      const error = err instanceof IssuerUnavailableError ? err : new IssuerUnavailableError(`cannot read the keys of ${this.issuer}`, { cause: err });
      // The JWKS may have moved: discover it again next time.
      this.jwksUri = undefined;
      this.failure = { at: this.options.now(), error };
      this.logger.warn({ issuer: this.issuer, err: error.message, stale: this.current !== undefined }, "cannot read the authorization server's keys");
      throw error;
    }
  }

  /** The issuer's `jwks_uri`, from the first metadata document found (RFC 8414 §3, OIDC Discovery §4). */
  private async discover(signal: AbortSignal): Promise<string> {
    const tried: string[] = [];
    for (const url of metadataUrls(this.issuer)) {
      const metadata = await this.getJson(url, signal, 'metadata', { missingOk: true });
      if (!metadata) {
        tried.push(url);
        continue;
      }
      // RFC 8414 §3.3: the document must name the issuer it was asked for, or an attacker's metadata could hand over its keys.
      if (metadata.issuer !== this.issuer) {
        throw new IssuerUnavailableError(`the metadata at ${url} names issuer ${JSON.stringify(metadata.issuer)}, not ${this.issuer}`);
      }
      if (!acceptableUrl(metadata.jwks_uri)) throw new IssuerUnavailableError(`the metadata at ${url} has no https jwks_uri`);
      return metadata.jwks_uri;
    }
    throw new IssuerUnavailableError(`no authorization server metadata for ${this.issuer} (tried ${tried.join(', ')})`);
  }

  /** A JSON object from `url`; with `missingOk`, undefined for a 4xx (nothing there); throws {@link IssuerUnavailableError} otherwise. */
  private async getJson(url: string, signal: AbortSignal, what: string, { missingOk }: { missingOk: boolean }): Promise<Record<string, unknown> | undefined> {
    let status: number;
    let text: string;
    try {
      const res = await this.http.get<string>(url, { signal, headers: { accept: 'application/json' } });
      status = res.status;
      text = typeof res.data === 'string' ? res.data : '';
    } catch (err) {
      const why = signal.aborted ? `no answer within ${this.options.timeoutMs} ms` : ((err as { code?: string }).code ?? 'network error');
      throw new IssuerUnavailableError(`the ${what} at ${url} could not be read: ${why}`, { cause: err });
    }
    if (missingOk && status >= 400 && status < 500) return undefined;
    if (status !== 200) throw new IssuerUnavailableError(`the ${what} at ${url} answered ${status}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new IssuerUnavailableError(`the ${what} at ${url} is not JSON`);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new IssuerUnavailableError(`the ${what} at ${url} is not a JSON object`);
    return body as Record<string, unknown>;
  }
}
