import { ToolError, errorFromTransport, parseRetryAfter } from '@broker/tools';
import { CallHeldBack, decideTry, fullJitter, type TryFacts } from '@broker/worker';

/** The one retry decision: every failed (or held back) try goes through it, and the worker only carries it out. */
const settings = { baseDelayMs: 500, maxDelayMs: 30_000 };
const facts = (attempt: number, extra: Partial<TryFacts> = {}): TryFacts => ({
  attempt,
  maxAttempts: 5,
  rateLimitDeferrals: 0,
  maxRateLimitDeferrals: 10,
  throttleScope: 'integration',
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

describe('decideTry', () => {
  const upstream500 = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 500 });

  it('retries a retryable error while attempts remain', () => {
    expect(decideTry(upstream500, facts(1), settings, () => 0.5)).toEqual({ action: 'retry', waitMs: 250, reason: 'UPSTREAM_ERROR' });
  });

  it("fails on the last attempt, with the try's own error", () => {
    expect(decideTry(upstream500, facts(5), settings)).toMatchObject({ action: 'fail', error: upstream500 });
  });

  it('never retries sooner than Retry-After', () => {
    const err = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 500, retryAfterMs: 7000 });
    expect(decideTry(err, facts(1), settings, () => 0.1)).toMatchObject({ action: 'retry', waitMs: 7000 });
    expect(decideTry(err, facts(1), settings, () => 0.1)).not.toHaveProperty('pause');
  });

  it('pauses the whole integration for a 503 with Retry-After, and retries', () => {
    const err = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503, retryAfterMs: 4000 });
    for (const throttleScope of ['integration', 'connection'] as const) {
      expect(decideTry(err, facts(1, { throttleScope }), settings, () => 0.1)).toMatchObject({ action: 'retry', waitMs: 4000, pause: { scope: 'integration', ms: 4000 } });
    }
  });

  it('fails non-retryable errors at once', () => {
    expect(decideTry(new ToolError('NOT_FOUND', { message: 'x', upstreamStatus: 404 }), facts(1), settings).action).toBe('fail');
  });

  it('defers a 429 for its Retry-After without spending an attempt, up to a bound, pausing the credential that got it', () => {
    const err = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429, retryAfterMs: 2000 });
    expect(decideTry(err, facts(5), settings)).toEqual({
      action: 'defer',
      waitMs: 2000,
      reason: 'upstream throttled',
      hold: 'integration',
      countsDeferral: true,
      pause: { scope: 'integration', ms: 2000 },
    });
    expect(decideTry(err, facts(1, { throttleScope: 'connection' }), settings)).toMatchObject({ hold: 'connection', pause: { scope: 'connection', ms: 2000 } });
    expect(decideTry(err, facts(1, { rateLimitDeferrals: 10 }), settings).action).toBe('fail');
  });

  it('backs off a 429 whose Retry-After says 0 (or a past date) as if it had none', () => {
    const err = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429, retryAfterMs: 0 });
    expect(decideTry(err, facts(1), settings)).toMatchObject({ action: 'defer', waitMs: 500, pause: { ms: 500 } });
  });

  it('backs off a 429 without Retry-After exponentially', () => {
    const err = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429 });
    expect(decideTry(err, facts(1, { rateLimitDeferrals: 0 }), settings)).toMatchObject({ waitMs: 500 });
    expect(decideTry(err, facts(1, { rateLimitDeferrals: 3 }), settings)).toMatchObject({ waitMs: 4000 });
  });

  it('defers a call the gate held back, holding only who was refused, with no pause and no deferral counted', () => {
    for (const scope of ['integration', 'connection'] as const) {
      const decision = decideTry(new CallHeldBack(scope, 1234, 'rate_limit'), facts(5, { rateLimitDeferrals: 10 }), settings);
      expect(decision).toEqual({ action: 'defer', waitMs: 1234, reason: `${scope} rate_limit`, hold: scope, countsDeferral: false });
    }
  });

  it('counts holds of a try that had already sent a request, and ends a job whose pages never fit the window', () => {
    const midTry = new CallHeldBack('connection', 40_000, 'rate_limit', true);
    expect(decideTry(midTry, facts(1), settings)).toMatchObject({ action: 'defer', hold: 'connection', countsDeferral: true });
    expect(decideTry(midTry, facts(1, { rateLimitDeferrals: 10 }), settings)).toMatchObject({ action: 'fail', error: { code: 'RATE_LIMITED' } });
  });

  it('defers a job the breaker held back on the integration, whatever attempts remain', () => {
    const err = new ToolError('CIRCUIT_OPEN', { message: 'open', retryAfterMs: 3000, stage: 'prepare' });
    expect(decideTry(err, facts(5), settings)).toMatchObject({ action: 'defer', waitMs: 3000, hold: 'integration', countsDeferral: false });
  });

  it('never resends a write without an idempotency key that may have reached the upstream', () => {
    const timedOut = errorFromTransport({ code: 'ETIMEDOUT', message: 'timeout', stage: 'exchange', writeWithoutKey: true });
    const reset = errorFromTransport({ code: 'ECONNRESET', message: 'reset', stage: 'exchange', writeWithoutKey: true });
    for (const err of [timedOut, reset]) {
      const decision = decideTry(err, facts(1), settings);
      expect(decision).toMatchObject({ action: 'fail', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
      expect(decision.action === 'fail' && decision.error.message).toMatch(/may have taken effect upstream/);
    }
  });

  it('never resends a write without a key after a 500, 502 or 504; a 503, or a keyed write, is retried', () => {
    for (const status of [500, 502, 504]) {
      const err = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: status, writeWithoutKey: true });
      expect(decideTry(err, facts(1), settings)).toMatchObject({ action: 'fail', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
      expect(decideTry(new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: status }), facts(1), settings).action).toBe('retry');
    }
    const unavailable = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503, writeWithoutKey: true });
    expect(decideTry(unavailable, facts(1), settings).action).toBe('retry');
  });

  it('a tool that can look its effect up retries such a write with a lookup first, no sooner than the lookup wait', () => {
    const lookup = { afterMs: 5000 };
    const gateway = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 502, writeWithoutKey: true });
    const timedOut = errorFromTransport({ code: 'ETIMEDOUT', message: 'timeout', stage: 'exchange', writeWithoutKey: true });
    for (const err of [gateway, timedOut]) {
      expect(decideTry(err, facts(1, { lookup }), settings, () => 0.5)).toEqual({ action: 'retry', waitMs: 5000, reason: err.code, lookFirst: true });
    }
    // A later Retry-After still wins.
    const late = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 502, retryAfterMs: 9000, writeWithoutKey: true });
    expect(decideTry(late, facts(1, { lookup }), settings)).toMatchObject({ action: 'retry', waitMs: 9000, lookFirst: true });
    // Nothing may have been applied: no lookup.
    const unavailable = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503, writeWithoutKey: true });
    expect(decideTry(unavailable, facts(1, { lookup }), settings)).not.toHaveProperty('lookFirst');
  });

  it("on the last attempt, looks the effect up in a run of its own, ending with the try's error if it is absent", () => {
    const gateway = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 504, writeWithoutKey: true });
    expect(decideTry(gateway, facts(5, { lookup: { afterMs: 300 } }), settings)).toMatchObject({ action: 'look', waitMs: 300, error: gateway });
    expect(decideTry(gateway, facts(5), settings)).toMatchObject({ action: 'fail', error: { code: 'OUTCOME_UNKNOWN' } });
  });

  it('pauses for a 429 or a 503 with Retry-After whatever becomes of the job, a job that fails included', () => {
    const throttled = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429, retryAfterMs: 2000 });
    // The 11th 429: the job fails, and the credential still waits the time the upstream named.
    expect(decideTry(throttled, facts(1, { rateLimitDeferrals: 10, throttleScope: 'connection' }), settings)).toMatchObject({
      action: 'fail',
      error: throttled,
      pause: { scope: 'connection', ms: 2000 },
    });
    // Without Retry-After: the backoff it would have deferred for.
    const bare = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429 });
    expect(decideTry(bare, facts(1, { rateLimitDeferrals: 10 }), settings)).toMatchObject({ action: 'fail', pause: { scope: 'integration', ms: 30_000 } });
    // A 503 with Retry-After on the last attempt.
    const unavailable = new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503, retryAfterMs: 4000 });
    expect(decideTry(unavailable, facts(5, { throttleScope: 'connection' }), settings)).toMatchObject({
      action: 'fail',
      error: unavailable,
      pause: { scope: 'integration', ms: 4000 },
    });
    // A lookup that could not tell because of a 503 with Retry-After (look-up-earlier-try.ts keeps its facts).
    const lookupDown = new ToolError('OUTCOME_UNKNOWN', { message: 'could not tell', retryable: false, upstreamStatus: 503, retryAfterMs: 3000 });
    expect(decideTry(lookupDown, facts(2), settings)).toMatchObject({ action: 'fail', error: lookupDown, pause: { scope: 'integration', ms: 3000 } });
    // Nothing the upstream said asks for a pause: none.
    expect(decideTry(new ToolError('UPSTREAM_ERROR', { message: 'x', upstreamStatus: 503 }), facts(5), settings)).not.toHaveProperty('pause');
    expect(decideTry(new CallHeldBack('integration', 5000, 'paused', true), facts(1, { rateLimitDeferrals: 10 }), settings)).not.toHaveProperty('pause');
  });

  it('holds nothing back longer than 10 minutes: pauses, deferrals and backoff, whatever their source', () => {
    const TEN_MINUTES = 10 * 60 * 1000;
    // retry.maxDelayMs has no maximum in the config.
    const long = { baseDelayMs: 60_000, maxDelayMs: 3_600_000 };
    const bare = new ToolError('RATE_LIMITED', { message: 'x', upstreamStatus: 429 });
    expect(decideTry(bare, facts(1, { rateLimitDeferrals: 5 }), long)).toMatchObject({ action: 'defer', waitMs: TEN_MINUTES, pause: { ms: TEN_MINUTES } });
    expect(decideTry(bare, facts(1, { rateLimitDeferrals: 10 }), long)).toMatchObject({ action: 'fail', pause: { ms: TEN_MINUTES } });
    // A GraphQL cost bucket that needs half an hour to refill.
    const bucket = new ToolError('RATE_LIMITED', { message: 'THROTTLED', retryable: true, retryAfterMs: 1_800_000 });
    expect(decideTry(bucket, facts(1, { throttleScope: 'connection' }), settings)).toMatchObject({
      action: 'defer',
      hold: 'connection',
      waitMs: TEN_MINUTES,
      pause: { scope: 'connection', ms: TEN_MINUTES },
    });
    expect(decideTry(upstream500, facts(5, { maxAttempts: 10 }), long, () => 0.999)).toMatchObject({ action: 'retry', waitMs: TEN_MINUTES });
    // An hourly window, an open breaker that recovers in an hour.
    expect(decideTry(new CallHeldBack('connection', 3_600_000, 'rate_limit'), facts(1), settings)).toMatchObject({ action: 'defer', waitMs: TEN_MINUTES });
    const open = new ToolError('CIRCUIT_OPEN', { message: 'open', retryAfterMs: 3_600_000, stage: 'prepare' });
    expect(decideTry(open, facts(1), settings)).toMatchObject({ action: 'defer', waitMs: TEN_MINUTES });
  });

  it('retries what provably never left, and keyed or read-only calls after sending', () => {
    const refused = errorFromTransport({ code: 'ECONNREFUSED', message: 'refused', stage: 'connect', writeWithoutKey: true });
    const keyed = errorFromTransport({ code: 'ETIMEDOUT', message: 'timeout', stage: 'exchange', writeWithoutKey: false });
    expect(decideTry(refused, facts(1), settings).action).toBe('retry');
    expect(decideTry(keyed, facts(1), settings)).toMatchObject({ action: 'retry', reason: 'TIMEOUT' });
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
