import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import { MAX_RETRY_AFTER_MS, type UpstreamAnswerHeaders } from '@broker/tools';
import { throttleScope, type CallGate } from './call-gate';
import { adaptivePauseMs, readRateLimitHeaders } from './rate-limit-headers';

/**
 * Adaptive rate limits: an API that reports its budget (`RateLimit`,
 * `X-RateLimit-*`) is paused, for every worker, as soon as the budget is down
 * to the configured floor and until it resets, so the next call does not
 * earn a 429. A `Retry-After` on a successful answer pauses the same way
 * (failed answers carry theirs into the retry policy).
 *
 * The floor is the headroom for calls already on their way when the budget
 * ran low: with `c` calls in flight at once (concurrency × workers), a floor
 * of `c - 1` leaves no room for a 429.
 */
export class AdaptiveLimits {
  constructor(
    private readonly gate: CallGate,
    private readonly metrics: Metrics,
  ) {}

  /**
   * The `onResponse` hook for one try's calls (undefined when turned off). The
   * pause is sent at once, on the worker's one command connection, so this
   * worker's next gate check is ordered after it; its result is only logged.
   */
  observer(name: string, integration: IntegrationConfig, connection: string, log: Logger): ((answer: UpstreamAnswerHeaders) => void) | undefined {
    const settings = integration.adaptiveRateLimit;
    if (settings === false) return undefined;
    // A reported budget is the credential's, as a 429 is (docs/integrations.md#adaptive-limits).
    const pausedConnection = throttleScope(integration) === 'connection' ? connection : undefined;
    return (answer) => {
      try {
        // A 429 is the retry decision's: it pauses the credential and defers the job.
        if (answer.status === 429) return;
        const reading = readRateLimitHeaders(answer.headers);
        // Retry-After on a failure reaches the retry policy with the error; here only a success's counts.
        if (answer.status >= 300) delete reading.retryAfterMs;
        const pauseMs = Math.min(adaptivePauseMs(reading, settings.floor), MAX_RETRY_AFTER_MS);
        if (pauseMs <= 0) return;
        const remaining = reading.budgets.length > 0 ? Math.min(...reading.budgets.map((b) => b.remaining)) : undefined;
        this.gate
          .pause(name, pauseMs, 'adaptive', pausedConnection)
          .then((inForce) => {
            this.metrics.pauses.inc({ integration: name });
            log.info({ integration: name, remaining, floor: settings.floor, pauseMs, inForceMs: inForce }, 'rate limit budget low: integration paused until it resets');
          })
          .catch((err: unknown) => log.warn({ err: (err as Error).message, integration: name }, 'adaptive pause not set'));
      } catch (err) {
        log.warn({ err: (err as Error).message, integration: name }, 'rate limit headers not understood');
      }
    };
  }
}
