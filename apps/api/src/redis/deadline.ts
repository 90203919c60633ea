/**
 * The contract promises an answer within 2 s when Redis is away, "never a
 * hang". The producer connection already fails fast, but not everything on it
 * does: BullMQ waits for the first `ready` before its first command, forever.
 * So every handler bounds its Redis work with this deadline.
 *
 * 1800 ms leaves room for Express to write the 503 inside the 2 s budget.
 * @defaultValue 1800
 */
export const REDIS_DEADLINE_MS = 1800;

/** Raised when Redis work outlives its deadline; {@link isRedisUnavailable} treats it as an outage. */
export class RedisDeadlineError extends Error {
  override readonly name = 'RedisDeadlineError';
  constructor(readonly ms: number) {
    super(`Redis did not answer within ${ms} ms`);
  }
}

/**
 * Settles with `work`, or rejects with {@link RedisDeadlineError} after `ms`.
 * The work itself carries on: anything that must be undone when it fails has
 * to be undone inside `work`, not by the caller that gave up waiting.
 */
export function withRedisDeadline<T>(work: Promise<T>, ms = REDIS_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisDeadlineError(ms)), ms);
    timer.unref();
  });
  // A late rejection of abandoned work must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
