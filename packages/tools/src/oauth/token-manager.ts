import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '@broker/shared/logger';
import { OAuthError } from './oauth-error';
import type { OAuthTokenStore, StoredTokens } from './token-store';
import { REFRESH_MARGIN_MS, type OAuth2Auth, type TokenSet } from './tokens';

/** What the token endpoint is asked for: a refresh, or (client credentials) a new token. */
export interface TokenRequest {
  integration: string;
  connection: string;
  auth: OAuth2Auth;
  /** Set for the refresh_token grant; absent for client_credentials. */
  refreshToken?: string;
}

/**
 * Calls the token endpoint (packages/tools does the HTTP). Throws
 * {@link OAuthError}: `needs_reauth` for `invalid_grant` (except to client credentials), `unavailable` for
 * transient failures, `rejected` for the rest.
 */
export type FetchToken = (request: TokenRequest) => Promise<TokenSet>;

export interface AccessTokenRequest {
  integration: string;
  connection: string;
  auth: OAuth2Auth;
  /** After a 401: do not trust the stored token. */
  forceRefresh?: boolean;
  /** The token the upstream refused; if the stored one differs, someone already refreshed it. */
  rejectedToken?: string;
}

export interface OAuthTokenManagerOptions {
  store: OAuthTokenStore;
  fetchToken: FetchToken;
  logger: Logger;
  /**
   * How long the refresh lock lives. Longer than a token request may take, so a
   * live holder never loses it; short enough that a crashed holder frees it soon.
   * A holder that loses it anyway still stores its set, unless something newer was.
   * @defaultValue 30000
   */
  lockTtlMs?: number;
  /** How long a caller waits for another process's refresh before giving up (retryable). @defaultValue 15000 */
  waitMs?: number;
  /** How often a waiter looks at the stored token. @defaultValue 25 */
  pollMs?: number;
  now?: () => number;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Constant time: tokens are secrets. */
function sameToken(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Hands out access tokens and refreshes them, once, for every worker process.
 *
 * A refresh happens under a Redis lock carrying a fencing token. Whoever gets
 * the lock reads the stored token again (another process may have refreshed
 * while it waited) and only then calls the token endpoint; the new access
 * token and a rotated refresh token are stored in one write. Should the lock
 * lapse first (a slow provider, a slow store), the set is stored all the same
 * unless something newer was (an import, a later refresh): the provider has
 * already rotated the refresh token it replaces. Everyone else waits, boundedly, for
 * the stored version to change. Within one process, concurrent callers share
 * one refresh, so 50 jobs on an expiring token cause one token request.
 */
export class OAuthTokenManager {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly lockTtlMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;

  constructor(private readonly options: OAuthTokenManagerOptions) {
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.waitMs = options.waitMs ?? 15_000;
    this.pollMs = options.pollMs ?? 25;
    this.now = options.now ?? Date.now;
  }

  async accessToken(req: AccessTokenRequest): Promise<string> {
    const stored = await this.options.store.read(req.integration, req.connection);
    this.assertUsable(req, stored);
    const tokens = stored.tokens;
    if (tokens && !this.refreshDue(tokens) && !this.refused(req, tokens)) return tokens.accessToken;
    if (!this.canRefresh(req.auth, tokens)) {
      // Inside the margin with nothing to refresh it: use it while it lasts.
      if (tokens && !req.forceRefresh && !this.expired(tokens)) return tokens.accessToken;
      throw this.cannotRefresh(req, tokens);
    }
    const token = await this.singleFlight(req, stored.version);
    if (req.rejectedToken && sameToken(token, req.rejectedToken)) {
      // The shared refresh returned the very token the upstream refused: refresh for this caller.
      return this.refresh(req, (await this.options.store.state(req.integration, req.connection)).version);
    }
    return token;
  }

  private singleFlight(req: AccessTokenRequest, seenVersion: number): Promise<string> {
    const key = `${req.integration}\n${req.connection}`;
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.refresh(req, seenVersion).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return flight;
  }

  private async refresh(req: AccessTokenRequest, seenVersion: number): Promise<string> {
    const { store } = this.options;
    const deadline = this.now() + this.waitMs;
    let version = seenVersion;
    for (;;) {
      const fence = await store.acquireLock(req.integration, req.connection, this.lockTtlMs);
      if (fence !== undefined) {
        try {
          return await this.refreshHolding(req, version, fence);
        } finally {
          await store.releaseLock(req.integration, req.connection, fence).catch((err: unknown) => {
            this.options.logger.warn(
              { integration: req.integration, connection: req.connection, err: (err as Error).message },
              'could not release the OAuth refresh lock; it expires on its own',
            );
          });
        }
      }
      // Another process is refreshing: wait for its write, or for its lock to go.
      while (this.now() < deadline) {
        await delay(this.pollMs);
        const state = await store.state(req.integration, req.connection);
        if (state.version !== version) {
          const latest = await this.readUsable(req);
          if (latest.token) return latest.token;
          version = latest.version;
          break;
        }
        if (!(await store.isLocked(req.integration, req.connection))) break;
      }
      if (this.now() >= deadline) {
        // Its refresh never landed (its process died holding the lock, which outlives our wait, or the
        // endpoint is slow). A token that has not expired still works (docs/oauth.md), except for a 401's
        // caller, whose token the upstream refused: failing every job of the connection would help nobody.
        if (!req.forceRefresh) {
          const { token } = await this.readUsable(req);
          if (token) return token;
        }
        throw new OAuthError('unavailable', `timed out waiting for another worker to refresh the OAuth token of connection "${req.connection}" of "${req.integration}"`);
      }
    }
  }

  /** The stored set (refused when the connection needs re-authorising), and its access token when it still works for this caller. */
  private async readUsable(req: AccessTokenRequest): Promise<{ token: string | undefined; version: number }> {
    const latest = await this.options.store.read(req.integration, req.connection);
    this.assertUsable(req, latest);
    const usable = latest.tokens !== undefined && !this.expired(latest.tokens) && !this.refused(req, latest.tokens);
    return { token: usable ? latest.tokens!.accessToken : undefined, version: latest.version };
  }

  private async refreshHolding(req: AccessTokenRequest, seenVersion: number, fence: number): Promise<string> {
    const { store, logger } = this.options;
    const latest = await store.read(req.integration, req.connection);
    this.assertUsable(req, latest);
    const current = latest.tokens;
    // Written since we looked (another process held the lock before us): use it, however little it has left.
    if (latest.version !== seenVersion && current && !this.expired(current) && !this.refused(req, current)) return current.accessToken;
    if (!this.canRefresh(req.auth, current)) throw this.cannotRefresh(req, current);

    const fields = { integration: req.integration, connection: req.connection, grant: req.auth.grant };
    let next: TokenSet;
    try {
      next = await this.options.fetchToken({
        integration: req.integration,
        connection: req.connection,
        auth: req.auth,
        ...(req.auth.grant === 'authorization_code' && current?.refreshToken ? { refreshToken: current.refreshToken } : {}),
      });
    } catch (err) {
      if (err instanceof OAuthError && err.kind === 'needs_reauth') {
        if (!(await store.markNeedsReauth(req.integration, req.connection, fence, err.providerError ?? 'invalid_grant', latest.version))) {
          // Refused because something newer was stored: a holder whose lock
          // lapsed stored the set that rotated the refresh token we spent, or
          // an operator imported one. That set is the connection's now.
          const newer = await store.read(req.integration, req.connection);
          if (newer.status === 'ok' && newer.version !== latest.version && newer.tokens && !this.expired(newer.tokens) && !this.refused(req, newer.tokens)) {
            logger.info({ ...fields, providerError: err.providerError }, 'OAuth refresh refused for a refresh token already rotated; using the newer stored token');
            return newer.tokens.accessToken;
          }
        }
        logger.warn({ ...fields, providerError: err.providerError }, 'OAuth connection needs re-authorisation');
        throw new OAuthError(
          'needs_reauth',
          `connection "${req.connection}" of "${req.integration}" needs re-authorisation: ${err.message}; connect it again or import new tokens`,
          err.providerError,
        );
      }
      if (err instanceof OAuthError && err.kind === 'unavailable' && current && !this.expired(current) && !req.forceRefresh) {
        // The token still works for a while; the next call tries the refresh again.
        logger.warn({ ...fields, err: err.message }, 'OAuth refresh failed; using the current token until it expires');
        return current.accessToken;
      }
      throw err;
    }
    const obtainedAt = this.now();
    // RFC 6749 §6: without a new refresh token in the answer, the old one stays valid.
    const merged: TokenSet = { ...next };
    if (!merged.refreshToken && current?.refreshToken) merged.refreshToken = current.refreshToken;
    const rotated = Boolean(next.refreshToken && next.refreshToken !== current?.refreshToken);
    // Never thrown away for a lapsed lock: once the provider rotated, this set holds the only live refresh token.
    const written = await store.writeRefreshed(req.integration, req.connection, { fence, basis: latest.version, obtainedAt }, merged);
    if (written === 'stored') {
      logger.info({ ...fields, rotated }, 'OAuth token refreshed');
    } else if (written === 'stored_after_lapse') {
      logger.warn(
        { ...fields, rotated, lockTtlMs: this.lockTtlMs },
        'OAuth token stored after its refresh lock lapsed (a slow token endpoint or store); nothing newer had been stored',
      );
    } else {
      // An import, or a refresh of a later set, came after ours; ours is valid but not kept.
      logger.warn(fields, 'OAuth token refreshed but not stored: a newer write won');
    }
    return merged.accessToken;
  }

  private assertUsable(req: AccessTokenRequest, stored: StoredTokens): void {
    // Client credentials have nothing to re-authorise: a new token request is the way back (a connection
    // marked before invalid_grant meant a rejected client there must not stay stuck once the secret is fixed).
    if (stored.status === 'needs_reauth' && req.auth.grant !== 'client_credentials') {
      throw new OAuthError(
        'needs_reauth',
        `connection "${req.connection}" of "${req.integration}" needs re-authorisation (the provider answered ${stored.reason ?? 'invalid_grant'}): connect it again or import new tokens`,
        stored.reason,
      );
    }
  }

  private canRefresh(auth: OAuth2Auth, tokens: TokenSet | undefined): boolean {
    return auth.grant === 'client_credentials' || Boolean(tokens?.refreshToken);
  }

  private cannotRefresh(req: AccessTokenRequest, tokens: TokenSet | undefined): OAuthError {
    const where = `connection "${req.connection}" of "${req.integration}"`;
    if (!tokens) {
      return new OAuthError(
        'missing',
        `${where} has no OAuth token yet: connect it (GET /oauth/${req.integration}/connect?connection=${req.connection}) or import one (PUT /v1/integrations/${req.integration}/connections/${req.connection}/token)`,
      );
    }
    return new OAuthError(
      'needs_reauth',
      `${where}: the access token ${req.forceRefresh ? 'was refused' : 'expired'} and there is no refresh token; connect it again or import new tokens`,
    );
  }

  /** The upstream refused this token (a 401), and it is the one we hold. */
  private refused(req: AccessTokenRequest, tokens: TokenSet): boolean {
    if (!req.forceRefresh) return false;
    return req.rejectedToken === undefined || sameToken(tokens.accessToken, req.rejectedToken);
  }

  private expired(tokens: TokenSet): boolean {
    return tokens.expiresAt !== undefined && tokens.expiresAt <= this.now();
  }

  /**
   * 5 minutes before expiry (docs/oauth.md). A token the broker obtained itself
   * and that lives less than 10 minutes is refreshed halfway instead, or every
   * call would refresh it.
   */
  private refreshDue(tokens: TokenSet): boolean {
    if (tokens.expiresAt === undefined) return false;
    const margin = tokens.issuedAt === undefined ? REFRESH_MARGIN_MS : Math.min(REFRESH_MARGIN_MS, (tokens.expiresAt - tokens.issuedAt) / 2);
    return tokens.expiresAt - this.now() <= margin;
  }
}
