import type { ToolError } from '@broker/tools';

export interface RetrySettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RetryState {
  /** Tries made so far, this one included. */
  attempt: number;
  maxAttempts: number;
  /** Times this job was already put back because the upstream answered 429. */
  rateLimitDeferrals: number;
  maxRateLimitDeferrals: number;
}

export type RetryDecision =
  /** Try again after `waitMs`; the failed try counted as an attempt. */
  | { action: 'retry'; waitMs: number; reason: string }
  /** Put the job back without spending an attempt (the upstream throttled us). */
  | { action: 'defer'; waitMs: number; reason: string }
  | { action: 'fail'; reason: string };

/** Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(n-1))]. */
export function fullJitter(attempt: number, settings: RetrySettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The whole retry policy, one pure function: what to do with a failed try.
 * - 429 (or any RATE_LIMITED): the API told us to slow down, not that the call failed, so the job is
 *   deferred without spending an attempt; bounded by `maxRateLimitDeferrals`
 *   so a permanently throttled job ends as RATE_LIMITED instead of looping.
 * - other retryable errors: backoff with full jitter, never sooner than the
 *   upstream's Retry-After.
 * - non-retryable errors, or the last attempt: fail now.
 */
export function decideRetry(
  error: ToolError,
  state: RetryState,
  settings: RetrySettings,
  random: () => number = Math.random,
): RetryDecision {
  // A 429, or a throttle the API reports otherwise (GraphQL THROTTLED answers 200): not a failed call.
  if (error.code === 'RATE_LIMITED') {
    if (state.rateLimitDeferrals >= state.maxRateLimitDeferrals) {
      return { action: 'fail', reason: `still throttled after ${state.rateLimitDeferrals} deferrals` };
    }
    // Without Retry-After, back off deterministically: a random pause of the whole integration helps nobody.
    const fallback = Math.min(settings.maxDelayMs, Math.max(settings.baseDelayMs, 100) * 2 ** state.rateLimitDeferrals);
    return { action: 'defer', waitMs: error.retryAfterMs ?? fallback, reason: 'upstream answered 429' };
  }
  if (!error.retryable) return { action: 'fail', reason: `${error.code} is not retryable` };
  if (state.attempt >= state.maxAttempts) return { action: 'fail', reason: `no attempts left (${state.maxAttempts})` };
  const waitMs = Math.max(fullJitter(state.attempt, settings, random), error.retryAfterMs ?? 0);
  return { action: 'retry', waitMs, reason: error.code };
}
