import type { DeprecationSighting } from '@broker/shared/integrations/deprecation';

/*
 * What an answer says about the retirement of the API it came from:
 * - `Deprecation` (RFC 9745): a structured-field date, `@1688169599`; older
 *   drafts sent `true` or an HTTP-date, still common (GitHub);
 * - `Sunset` (RFC 8594): an HTTP-date after which the resource may stop working;
 * - `Link` with `rel="deprecation"` or `rel="sunset"`: where to read about it;
 * - providers' own: Stripe's `Stripe-Notice` (earlier
 *   `Stripe-Api-Version-Upgrade-Notice`), Shopify's
 *   `X-Shopify-API-Deprecated-Reason`, and `Warning: 299 - "…deprecated…"`
 *   (Salesforce, Kubernetes).
 */

const PROVIDER_NOTICES = ['stripe-notice', 'stripe-api-version-upgrade-notice', 'x-shopify-api-deprecated-reason'] as const;

/** Headers naming the version an upstream actually served. */
const VERSION_HEADERS = ['stripe-version', 'x-shopify-api-version', 'x-github-api-version-selected', 'api-version'] as const;

const MAX_TEXT = 500;

/** A cheap test for the hot path: most answers carry none of these. */
export function mayCarryDeprecation(headers: Readonly<Record<string, string>>): boolean {
  return headers.deprecation !== undefined || headers.sunset !== undefined || headers.warning !== undefined || PROVIDER_NOTICES.some((name) => headers[name] !== undefined);
}

function httpDate(value: string): string | null {
  const ms = Date.parse(value.trim());
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** RFC 9745 `@<epoch seconds>`, else a legacy HTTP-date; `true` and anything else: flagged without a date. */
export function parseDeprecation(value: string): string | null {
  const trimmed = value.trim();
  const sf = /^@(-?\d{1,15})$/.exec(trimmed);
  if (sf) return new Date(Number(sf[1]) * 1000).toISOString();
  if (/^true$/i.test(trimmed)) return null;
  return httpDate(trimmed);
}

/** The first `Link` target whose `rel` includes one of `rels`. */
export function linkWithRel(header: string | undefined, rels: readonly string[]): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rel =
      /;\s*rel\s*=\s*"?([^";]*)"?/i
        .exec(match[2] ?? '')?.[1]
        ?.toLowerCase()
        .split(/\s+/) ?? [];
    if (rel.some((r) => rels.includes(r))) return match[1]!;
  }
  return null;
}

/** The text of `Warning: 299 - "…"` entries about deprecation or sunset. */
function deprecationWarning(header: string | undefined): string | null {
  if (!header) return null;
  const texts = [...header.matchAll(/299\s+\S+\s+"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!).filter((t) => /deprecat|sunset|retire/i.test(t));
  return texts.length > 0 ? texts.join(' | ') : null;
}

/** The version the answer says it served, when it says. */
export function reportedApiVersion(headers: Readonly<Record<string, string>>): string | undefined {
  for (const name of VERSION_HEADERS) {
    const value = headers[name]?.trim();
    if (value) return value.slice(0, 100);
  }
  return undefined;
}

/** Everything an answer's headers say about deprecation; undefined when nothing. (The caller adds version and tool.) */
export function readDeprecationHeaders(headers: Readonly<Record<string, string>>): Omit<DeprecationSighting, 'apiVersion' | 'tool'> | undefined {
  if (!mayCarryDeprecation(headers)) return undefined;
  const signals: string[] = [];
  let deprecatedAt: string | null = null;
  let sunsetAt: string | null = null;
  const notices: string[] = [];
  if (headers.deprecation !== undefined) {
    signals.push('deprecation');
    deprecatedAt = parseDeprecation(headers.deprecation);
  }
  if (headers.sunset !== undefined) {
    signals.push('sunset');
    sunsetAt = httpDate(headers.sunset);
  }
  for (const name of PROVIDER_NOTICES) {
    const value = headers[name]?.trim();
    if (value) {
      signals.push(name);
      notices.push(value);
    }
  }
  const warning = deprecationWarning(headers.warning);
  if (warning) {
    signals.push('warning');
    notices.push(warning);
  }
  if (signals.length === 0) return undefined;
  const notice = notices.join(' | ');
  return {
    deprecatedAt,
    sunsetAt,
    link: linkWithRel(headers.link, ['deprecation', 'sunset']),
    notice: notice ? notice.slice(0, MAX_TEXT) : null,
    signals,
  };
}
