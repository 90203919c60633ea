/** A provider asking for more than this is treated as asking for this. @defaultValue 10 minutes */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
 * Returns milliseconds to wait, capped, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now(), capMs: number = MAX_RETRY_AFTER_MS): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    ms = Math.ceil(Number(trimmed) * 1000);
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(Math.max(ms, 0), capMs);
}
