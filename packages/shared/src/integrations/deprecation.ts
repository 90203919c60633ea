import { z } from 'zod';

/**
 * An upstream told us an API version (or an endpoint of it) is deprecated or
 * will be retired: `Deprecation` (RFC 9745), `Sunset` (RFC 8594), their
 * `Link` relations, or a provider's own warning (Stripe's `Stripe-Notice`,
 * Shopify's `X-Shopify-API-Deprecated-Reason`, a `Warning: 299`).
 */
export const deprecationSchema = z.object({
  /** The version the calls were made with: the configured or pinned one, else the one the upstream reported, else `unversioned`. */
  apiVersion: z.string(),
  /** When it was (or will be) deprecated, from `Deprecation`; null when only flagged (`Deprecation: true`, a provider notice). */
  deprecatedAt: z.string().nullable(),
  /** When it stops working, from `Sunset`. */
  sunsetAt: z.string().nullable(),
  /** Documentation from `Link: <…>; rel="deprecation"` (or `rel="sunset"`). */
  link: z.string().nullable(),
  /** A provider's own text (Stripe-Notice, Shopify's reason, a Warning 299). */
  notice: z.string().nullable(),
  /** The headers that said so, lower case. */
  signals: z.array(z.string()),
  /** The tool whose call last carried it. */
  tool: z.string().nullable(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
});
export type Deprecation = z.infer<typeof deprecationSchema>;

/** What one answer said; the store adds the times. */
export type DeprecationSighting = Omit<Deprecation, 'firstSeenAt' | 'lastSeenAt'>;
