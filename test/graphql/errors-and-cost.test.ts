import { msUntilAvailable, pauseBeforeNextMs, readCost, throttledRetryAfterMs, toolErrorFromGraphql } from '@broker/tools';
import { decideTry } from '@broker/worker';

const cost = (currentlyAvailable: number, requestedQueryCost = 100, restoreRate = 50, maximumAvailable = 1000) => ({
  requestedQueryCost,
  actualQueryCost: requestedQueryCost,
  throttleStatus: { maximumAvailable, currentlyAvailable, restoreRate },
});

describe('mapping GraphQL errors to tool errors', () => {
  it.each([
    [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }, 'RATE_LIMITED', true],
    [{ message: 'gone', extensions: { code: 'NOT_FOUND' } }, 'NOT_FOUND', false],
    [{ message: 'Access denied for orders field.', extensions: { code: 'ACCESS_DENIED' } }, 'PERMISSION_DENIED', false],
    [{ message: 'no', extensions: { code: 'FORBIDDEN' } }, 'PERMISSION_DENIED', false],
    [{ message: 'who', extensions: { code: 'UNAUTHENTICATED' } }, 'AUTHENTICATION_FAILED', false],
    [{ message: "Field 'x' doesn't exist on type 'Order'", extensions: { code: 'undefinedField' } }, 'VALIDATION_ERROR', false],
    [{ message: 'bad', extensions: { code: 'BAD_USER_INPUT' } }, 'VALIDATION_ERROR', false],
    [{ message: 'Query cost is 1500', extensions: { code: 'MAX_COST_EXCEEDED' } }, 'VALIDATION_ERROR', false],
    // A request error without a code: it points into the document, not at a result field.
    [{ message: 'Syntax Error: Expected Name', locations: [{ line: 1, column: 3 }] }, 'VALIDATION_ERROR', false],
    [{ message: 'something broke', path: ['orders'] }, 'UNKNOWN', false],
    [{ message: 'odd', extensions: { code: 'SOMETHING_NEW' } }, 'UNKNOWN', false],
    [{ message: 'Internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }, 'UPSTREAM_ERROR', true],
  ])('%j → %s', (error, code, retryable) => {
    const mapped = toolErrorFromGraphql([error], undefined, false);
    expect(mapped).toMatchObject({ code, retryable });
    expect(mapped.message).toContain(error.message);
  });

  it('does not retry a mutation that hit an internal error: it may have taken effect', () => {
    expect(toolErrorFromGraphql([{ message: 'x', extensions: { code: 'INTERNAL_SERVER_ERROR' } }], undefined, true)).toMatchObject({ code: 'UNKNOWN', retryable: false });
  });

  it('lets a throttle win over other errors in the same answer, since waiting fixes it', () => {
    const mapped = toolErrorFromGraphql(
      [
        { message: 'gone', extensions: { code: 'NOT_FOUND' } },
        { message: 'Throttled', extensions: { code: 'THROTTLED' } },
      ],
      cost(10),
      false,
    );
    expect(mapped.code).toBe('RATE_LIMITED');
  });

  it('computes the wait of a THROTTLED answer from the cost bucket', () => {
    // 100 points wanted, 10 left, 50 a second: 1.8 s.
    expect(toolErrorFromGraphql([{ message: 'Throttled', extensions: { code: 'THROTTLED' } }], cost(10), false).retryAfterMs).toBe(1800);
    expect(throttledRetryAfterMs(undefined)).toBe(1000);
  });

  it('defers a THROTTLED job like a 429: no attempt spent, at least the bucket wait', () => {
    const error = toolErrorFromGraphql([{ message: 'Throttled', extensions: { code: 'THROTTLED' } }], cost(10), false);
    const decision = decideTry(
      error,
      { attempt: 5, maxAttempts: 5, rateLimitDeferrals: 0, maxRateLimitDeferrals: 10, throttleScope: 'integration' },
      { baseDelayMs: 100, maxDelayMs: 1000 },
    );
    expect(decision).toMatchObject({ action: 'defer', waitMs: 1800 });
  });
});

describe('the cost bucket', () => {
  it('reads extensions.cost and ignores answers without one', () => {
    expect(readCost({ cost: cost(500) })).toEqual(cost(500));
    expect(readCost(undefined)).toBeUndefined();
    expect(readCost({ cost: { requestedQueryCost: 1, throttleStatus: { maximumAvailable: 10, currentlyAvailable: 5, restoreRate: 0 } } })).toBeUndefined();
  });

  it('pauses only when the next call of the same cost would not be covered', () => {
    expect(pauseBeforeNextMs(cost(100))).toBe(0);
    expect(pauseBeforeNextMs(cost(99))).toBe(20);
    expect(pauseBeforeNextMs(cost(0))).toBe(2000);
    // A reserve leaves points for other jobs of the integration.
    expect(pauseBeforeNextMs(cost(120), 50)).toBe(600);
    // Never waits for more than the bucket can hold.
    expect(msUntilAvailable({ maximumAvailable: 50, currentlyAvailable: 0, restoreRate: 50 }, 500)).toBe(1000);
  });
});
