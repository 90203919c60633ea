import { MAX_RETRY_AFTER_MS, ToolError } from '@broker/tools';
import type { HoldScope } from '../limits/call-gate';
import { CallHeldBack } from './call-held-back';

export interface RetrySettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What the decision needs to know about the job and its try. */
export interface TryFacts {
  /** Tries made so far, this one included. */
  attempt: number;
  maxAttempts: number;
  /** Times this job was already put back because the upstream throttled it. */
  rateLimitDeferrals: number;
  maxRateLimitDeferrals: number;
  /** What a throttle on this job's credential holds back (see throttleScope). */
  throttleScope: HoldScope;
  /**
   * The tool can look up what an earlier try did by its reference (`verify`),
   * and how long after a failed try to look: the upstream may still be
   * working on a request we stopped waiting for (the integration's timeout).
   */
  lookup?: { afterMs: number };
}

/** Holds calls back for every worker: the integration's, or the job's connection's. */
export interface Pause {
  scope: HoldScope;
  ms: number;
}

/**
 * What becomes of the job. Every action may carry a `pause` (see
 * {@link pauseFor}): it holds the upstream's other callers back whatever
 * becomes of this job, a job that fails included.
 */
export type TryDecision =
  /**
   * Try again after `waitMs`; the failed try counted as an attempt.
   * `lookFirst`: the failed try may have applied an unkeyed write, so the
   * next try looks its effect up (by its reference) before it sends again.
   */
  | { action: 'retry'; waitMs: number; reason: string; pause?: Pause; lookFirst?: true }
  /**
   * No attempt is left, but the failed try may have applied an unkeyed write:
   * after `waitMs`, look its effect up (no attempt spent, nothing sent):
   * found, the job succeeds with it; absent, it fails with `error`.
   */
  | { action: 'look'; waitMs: number; reason: string; error: ToolError; pause?: Pause }
  /**
   * Put the job back without spending an attempt; `hold` says who waits
   * `waitMs` (the integration's queue, or this job alone); `countsDeferral`:
   * the upstream throttled us (bounded by maxRateLimitDeferrals).
   */
  | { action: 'defer'; waitMs: number; reason: string; hold: HoldScope; countsDeferral: boolean; pause?: Pause }
  /** End the job with `error` (which may say more than the try's own error). */
  | { action: 'fail'; reason: string; error: ToolError; pause?: Pause };

/**
 * The longest a decision holds anything back, a pause or a job's wait: the
 * contract's cap on a `Retry-After` (docs/integrations.md), the same constant
 * the call gate caps its pauses with. Some waits come from elsewhere and are
 * not bounded on their own: `retry.maxDelayMs` has no maximum in the config,
 * and a GraphQL cost bucket can name a refill of any length.
 */
export const MAX_WAIT_MS = MAX_RETRY_AFTER_MS;

const capped = (ms: number): number => Math.min(ms, MAX_WAIT_MS);

/** Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^(n-1))]. */
export function fullJitter(attempt: number, settings: RetrySettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Answers after which a write may or may not have been applied. */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([500, 502, 504]);

/**
 * Whether a failed request of a write without an idempotency key may have
 * taken effect upstream: yes, unless something proves it did not — it was
 * never sent (held back, failed while preparing or connecting), or the
 * upstream refused it (a 4xx, a 503). A 2xx whose body broke the output schema
 * was applied. Only the request's own flag counts (`writeWithoutKey`): a GET
 * of a write tool applies nothing. Marks a failed job so that any later re-run
 * looks before it sends (settle-try.ts).
 */
export function mayHaveBeenApplied(error: ToolError): boolean {
  if (!error.writeWithoutKey || error instanceof CallHeldBack || error.stage === 'prepare' || error.stage === 'connect') return false;
  const status = error.upstreamStatus;
  if (status !== undefined) return (status < 400 || status >= 500) && status !== 503;
  return error.stage === 'exchange' || error.code === 'SCHEMA_MISMATCH';
}

function outcomeUnknown(error: ToolError): ToolError {
  const what = error.code === 'TIMEOUT' ? 'timed out' : `failed (${error.message})`;
  return new ToolError('OUTCOME_UNKNOWN', {
    message: `the call ${what} after the request was sent; it may have taken effect upstream and is not resent without an idempotency key`,
    retryable: false,
    cause: error,
  });
}

/** What {@link pauseFor} needs to know: how often the job was throttled already, and whose credential it used. */
export type PauseFacts = Pick<TryFacts, 'rateLimitDeferrals' | 'throttleScope'>;

/**
 * How long a throttled credential waits: the upstream's `Retry-After`, or
 * without one a deterministic backoff (a random pause helps nobody). Capped.
 */
function throttleWaitMs(error: ToolError, rateLimitDeferrals: number, settings: RetrySettings): number {
  const fallback = Math.min(settings.maxDelayMs, Math.max(settings.baseDelayMs, 100) * 2 ** rateLimitDeferrals);
  // `Retry-After: 0` (or a date already past) says nothing useful about when: back off as without one.
  return capped(error.retryAfterMs || fallback);
}

/**
 * The pause a failed call asks of every worker (docs/integrations.md: a 429
 * pauses the credential that got it, a 503 with `Retry-After` the whole
 * integration), whatever then becomes of the job: the upstream named a time
 * for everyone, so a job that fails, is looked up or is deferred pauses the
 * same as one that is retried. A status check of an async tool pauses by the
 * same rule (async-tools/status-check.ts). A call the gate or the breaker held
 * back reached nobody, so it pauses nothing.
 */
export function pauseFor(error: ToolError, facts: PauseFacts, settings: RetrySettings): Pause | undefined {
  if (error instanceof CallHeldBack) return undefined;
  if (error.code === 'RATE_LIMITED') return { scope: facts.throttleScope, ms: throttleWaitMs(error, facts.rateLimitDeferrals, settings) };
  if (error.upstreamStatus === 503 && error.retryAfterMs) return { scope: 'integration', ms: capped(error.retryAfterMs) };
  return undefined;
}

/**
 * The whole retry meaning of a failed try, one pure function (the worker only
 * carries it out):
 * - the call gate or the breaker held the call back: nothing was sent, the job
 *   waits without spending an attempt, and only who was held waits;
 * - a 429 (or a throttle reported otherwise): not a failed call; the job is
 *   deferred without spending an attempt, and the credential that got it is
 *   paused for every worker (the integration when it has one credential);
 *   bounded by `maxRateLimitDeferrals` so a job cannot loop forever;
 * - a 503 with Retry-After pauses the whole integration, and is retried;
 * - a write without an idempotency key that may have reached the upstream
 *   (sent, then no answer; a 500/502/504) is never resent blindly: a tool
 *   that can look up its effect (`verify`) looks first, no sooner than
 *   `lookup.afterMs` (found: succeeded; absent: resent with the same
 *   reference); any other ends OUTCOME_UNKNOWN;
 * - other retryable errors: backoff with full jitter, never sooner than the
 *   upstream's Retry-After, while attempts remain.
 * The pause ({@link pauseFor}) is decided apart from the action, and no wait
 * or pause is longer than {@link MAX_WAIT_MS}.
 */
export function decideTry(error: ToolError, facts: TryFacts, settings: RetrySettings, random: () => number = Math.random): TryDecision {
  const decision = decideAction(error, facts, settings, random);
  const bounded = 'waitMs' in decision ? { ...decision, waitMs: capped(decision.waitMs) } : decision;
  const pause = pauseFor(error, facts, settings);
  return pause ? { ...bounded, pause } : bounded;
}

function decideAction(error: ToolError, facts: TryFacts, settings: RetrySettings, random: () => number): TryDecision {
  if (error instanceof CallHeldBack) {
    if (error.midTry && facts.rateLimitDeferrals >= facts.maxRateLimitDeferrals) {
      return { action: 'fail', reason: `held back mid-try ${facts.rateLimitDeferrals} times: the tool needs more calls than the window allows`, error };
    }
    return { action: 'defer', waitMs: error.waitMs, reason: `${error.scope} ${error.reason}`, hold: error.scope, countsDeferral: error.midTry };
  }
  if (error.code === 'CIRCUIT_OPEN') {
    return { action: 'defer', waitMs: error.retryAfterMs ?? settings.baseDelayMs, reason: 'circuit open', hold: 'integration', countsDeferral: false };
  }
  if (error.code === 'RATE_LIMITED') {
    if (facts.rateLimitDeferrals >= facts.maxRateLimitDeferrals) {
      return { action: 'fail', reason: `still throttled after ${facts.rateLimitDeferrals} deferrals`, error };
    }
    // The job waits as long as the credential's pause.
    return { action: 'defer', waitMs: throttleWaitMs(error, facts.rateLimitDeferrals, settings), reason: 'upstream throttled', hold: facts.throttleScope, countsDeferral: true };
  }
  if (!error.retryable) return { action: 'fail', reason: `${error.code} is not retryable`, error };
  // A gateway or server error says nothing about whether the write was applied (a 503 says it was not).
  const mayHaveApplied = error.stage === 'exchange' || GATEWAY_STATUSES.has(error.upstreamStatus ?? 0);
  const lookFirst = mayHaveApplied && error.writeWithoutKey === true;
  if (lookFirst && !facts.lookup) {
    return { action: 'fail', reason: 'a write without an idempotency key may have reached the upstream', error: outcomeUnknown(error) };
  }
  const lookAfterMs = lookFirst ? facts.lookup!.afterMs : 0;
  if (facts.attempt >= facts.maxAttempts) {
    if (lookFirst) return { action: 'look', waitMs: lookAfterMs, reason: `no attempts left (${facts.maxAttempts}); looking up what the last try did`, error };
    return { action: 'fail', reason: `no attempts left (${facts.maxAttempts})`, error };
  }
  const waitMs = Math.max(fullJitter(facts.attempt, settings, random), error.retryAfterMs ?? 0, lookAfterMs);
  return { action: 'retry', waitMs, reason: error.code, ...(lookFirst ? { lookFirst: true as const } : {}) };
}
