import { parseRetryAfter } from '@broker/tools';

/**
 * What an answer says about the caller's budget. `resetMs` is relative to the
 * moment of reading; undefined when the API does not say.
 */
export interface RateBudget {
  remaining: number;
  resetMs?: number;
  /** The policy's window, from `RateLimit-Policy` (`w=`): a fallback when no reset is given. */
  windowMs?: number;
}

export interface RateLimitReading {
  /** Every budget the answer reports (several policies, several header families). */
  budgets: RateBudget[];
  /** `Retry-After` on the answer, in ms. */
  retryAfterMs?: number;
}

/** Values at or above these are absolute times, not seconds from now (1e9 s from now is 31 years). */
const EPOCH_SECONDS_FLOOR = 1e9;
const EPOCH_MS_FLOOR = 1e12;

/**
 * `X-RateLimit-Reset` is epoch seconds at GitHub, Twitter and Discord, but
 * seconds from now at others (and epoch ms at a few): the magnitude tells.
 */
export function resetToMs(value: number, now: number): number {
  if (value >= EPOCH_MS_FLOOR) return Math.max(0, Math.ceil(value - now));
  if (value >= EPOCH_SECONDS_FLOOR) return Math.max(0, Math.ceil(value * 1000 - now));
  return Math.max(0, Math.ceil(value * 1000));
}

function number(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim().replace(/^"(.*)"$/, '$1');
  if (!/^-?\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** A header that arrived twice is joined with ", ": the smaller budget is the one that binds. */
function smallest(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const values = value
    .split(',')
    .map(number)
    .filter((n): n is number => n !== undefined);
  return values.length > 0 ? Math.min(...values) : undefined;
}

/** `a=1;b=2` or `a=1, b=2` → {a: "1", b: "2"}; a bare first token (a policy name or quota) is kept as `''`. */
function params(item: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of item.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) out.set('', part.trim());
    else out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The IETF `RateLimit` field, in both shapes the drafts used:
 * - draft 7: `limit=100, remaining=50, reset=30` (one policy, reset in seconds);
 * - draft 8+: `"default";r=50;t=30, "burst";r=2;t=1` (a list of policies:
 *   `r` remaining, `t` seconds to reset).
 */
function ietfBudgets(field: string | undefined, policyWindowMs: number | undefined): RateBudget[] {
  if (!field) return [];
  const items = field.split(',').map(params);
  const flat = new Map(items.flatMap((m) => [...m.entries()]));
  const withWindow = (b: RateBudget): RateBudget => (policyWindowMs !== undefined ? { ...b, windowMs: policyWindowMs } : b);
  if (flat.has('remaining')) {
    const remaining = number(flat.get('remaining'));
    const reset = number(flat.get('reset'));
    if (remaining === undefined) return [];
    return [withWindow(reset !== undefined ? { remaining, resetMs: Math.ceil(reset * 1000) } : { remaining })];
  }
  const budgets: RateBudget[] = [];
  for (const item of items) {
    const remaining = number(item.get('r'));
    if (remaining === undefined) continue;
    const reset = number(item.get('t'));
    budgets.push(withWindow(reset !== undefined ? { remaining, resetMs: Math.ceil(reset * 1000) } : { remaining }));
  }
  return budgets;
}

/** `RateLimit-Policy: 100;w=60` or `"default";q=100;w=60`: the longest window, the safe fallback when no reset is given. */
function policyWindowMs(field: string | undefined): number | undefined {
  if (!field) return undefined;
  const windows = field
    .split(',')
    .map((item) => number(params(item).get('w')))
    .filter((w): w is number => w !== undefined && w > 0);
  return windows.length > 0 ? Math.max(...windows) * 1000 : undefined;
}

/**
 * Reads the rate-limit budget from an answer's (lower-cased) headers: the IETF
 * `RateLimit`/`RateLimit-Policy` fields, the older `RateLimit-Remaining`/
 * `RateLimit-Reset` pair, the de-facto `X-RateLimit-Remaining`/`X-RateLimit-Reset`,
 * and `Retry-After`.
 */
export function readRateLimitHeaders(headers: Readonly<Record<string, string>>, now: number = Date.now()): RateLimitReading {
  const windowMs = policyWindowMs(headers['ratelimit-policy']);
  const budgets = ietfBudgets(headers['ratelimit'], windowMs);
  for (const [remainingHeader, resetHeader, resetIsDelta] of [
    ['ratelimit-remaining', 'ratelimit-reset', true],
    ['x-ratelimit-remaining', 'x-ratelimit-reset', false],
  ] as const) {
    const remaining = smallest(headers[remainingHeader]);
    if (remaining === undefined) continue;
    const reset = smallest(headers[resetHeader]);
    const budget: RateBudget = { remaining };
    if (reset !== undefined) budget.resetMs = resetIsDelta ? Math.ceil(reset * 1000) : resetToMs(reset, now);
    if (windowMs !== undefined) budget.windowMs = windowMs;
    budgets.push(budget);
  }
  const reading: RateLimitReading = { budgets };
  const retryAfterMs = parseRetryAfter(headers['retry-after'], now);
  if (retryAfterMs !== undefined) reading.retryAfterMs = retryAfterMs;
  return reading;
}

/**
 * How long to hold every call back, or 0: until the latest reset among the
 * budgets that are down to `floor`, and at least `Retry-After`. A budget at
 * the floor without a reset waits out its policy window; with neither, the
 * API gave nothing to wait for and the next 429 will say.
 */
export function adaptivePauseMs(reading: RateLimitReading, floor: number): number {
  let pause = reading.retryAfterMs ?? 0;
  for (const budget of reading.budgets) {
    if (budget.remaining > floor) continue;
    pause = Math.max(pause, budget.resetMs ?? budget.windowMs ?? 0);
  }
  return pause;
}
