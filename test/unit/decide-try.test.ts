import { ToolError, parseRetryAfter } from '@broker/tools';
import { decideRetry, fullJitter } from '@broker/worker';

const settings = { baseDelayMs: 500, maxDelayMs: 30_000 };
const state = (attempt: number, extra: Partial<Parameters<typeof decideRetry>[1]> = {}) => ({
  attempt,
  maxAttempts: 5,
  rateLimitDeferrals: 0,
  maxRateLimitDeferrals: 10,
  ...extra,
});

describe('fullJitter', () => {
  it('stays within [0, min(cap, base * 2^(n-1)))', () => {
    expect(fullJitter(1, settings, () => 0.999)).toBe(499);
    expect(fullJitter(3, settings, () => 0.5)).toBe(1000);
    expect(fullJitter(20, settings, () => 0.999)).toBe(29_970);
    expect(fullJitter(4, settings, () => 0)).toBe(0);
  });
});

describe('decideRetry', () => {
  const upstream500 = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 500 });

  it('retries a retryable error while attempts remain', () => {
    expect(decideRetry(upstream500, state(1), settings, () => 0.5)).toEqual({ action: 'retry', waitMs: 250, reason: 'UPSTREAM_ERROR' });
  });

  it('fails on the last attempt', () => {
    expect(decideRetry(upstream500, state(5), settings).action).toBe('fail');
  });

  it('never retries sooner than Retry-After', () => {
    const err = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503, retryAfterMs: 7000 });
    expect(decideRetry(err, state(1), settings, () => 0.1)).toMatchObject({ action: 'retry', waitMs: 7000 });
  });

  it('fails non-retryable errors at once', () => {
    expect(decideRetry(new ToolError('NOT_FOUND', { message: 'x', upstreamStatus: 404 }), state(1), settings).action).toBe('fail');
  });

  it('defers a 429 for its Retry-After without spending an attempt, up to a bound', () => {
    const err = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429, retryAfterMs: 2000 });
    expect(decideRetry(err, state(5), settings)).toMatchObject({ action: 'defer', waitMs: 2000 });
    expect(decideRetry(err, state(1, { rateLimitDeferrals: 10 }), settings).action).toBe('fail');
  });

  it('backs off a 429 without Retry-After exponentially', () => {
    const err = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429 });
    expect(decideRetry(err, state(1, { rateLimitDeferrals: 0 }), settings)).toMatchObject({ waitMs: 500 });
    expect(decideRetry(err, state(1, { rateLimitDeferrals: 3 }), settings)).toMatchObject({ waitMs: 4000 });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP dates, capped, never negative', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('86400', now)).toBe(10 * 60 * 1000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
