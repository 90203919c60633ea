import type { AuthConfig } from '@broker/shared/config/schema';

/** The `oauth2` variant of an integration's or connection's `auth`. */
export type OAuth2Auth = Extract<AuthConfig, { type: 'oauth2' }>;

/** What the broker keeps of a connection's OAuth grant. Never logged, never in job data. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** ms since epoch; absent when the provider did not say (the token is used until a 401). */
  expiresAt?: number;
  /**
   * ms since epoch, when the broker itself obtained the token from the token
   * endpoint; absent for imported tokens, whose lifetime is unknown.
   */
  issuedAt?: number;
}

/** Access tokens are refreshed this long before they expire (docs/oauth.md). @defaultValue 5 minutes */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;
