import { parseRetryAfter } from '@broker/tools';
import { CALLBACK_MAX_DELAY_MS } from '@broker/shared/jobs/callback-job';
import type { DeliveryOutcome } from './deliver';

export type CallbackVerdict =
  | { action: 'delivered'; status: number }
  /** Try again later, never sooner than `retryAfterMs` when the receiver named a time. */
  | { action: 'retry'; reason: string; retryAfterMs?: number }
  /** Give up now: more tries cannot help (or must not happen). */
  | { action: 'stop'; reason: string };

/**
 * What one delivery try means, as one pure function (like the tool retry policy):
 * - 2xx: delivered;
 * - 408, 429, 5xx, no answer at all: the receiver is busy or away; retry,
 *   honouring `Retry-After`;
 * - 410 Gone: the receiver asks us to stop (Standard Webhooks practice);
 * - 3xx: a failed delivery; the redirect is not followed, since its target was
 *   never checked against the SSRF policy, and asking again gets the same answer;
 * - any other 4xx: the receiver refuses this message; resending it will not change that;
 * - a URL the SSRF policy refuses: never sent.
 */
export function classifyDelivery(outcome: DeliveryOutcome, now = Date.now()): CallbackVerdict {
  if (outcome.kind === 'refused') return { action: 'stop', reason: `refused by the callback policy: ${outcome.reason}` };
  if (outcome.kind === 'unreachable') return { action: 'retry', reason: outcome.reason };
  const { status, headers } = outcome;
  if (status >= 200 && status < 300) return { action: 'delivered', status };
  if (status === 410) return { action: 'stop', reason: 'the receiver answered 410 Gone' };
  if (status === 408 || status === 429 || status >= 500) {
    const header = headers['retry-after'];
    const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, now, CALLBACK_MAX_DELAY_MS);
    return { action: 'retry', reason: `the receiver answered ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (status >= 300 && status < 400) return { action: 'stop', reason: `the receiver answered ${status}; redirects are not followed` };
  return { action: 'stop', reason: `the receiver answered ${status}` };
}

/**
 * Backoff between tries: doubling from `baseMs` up to `maxMs`, each delay
 * drawn from its upper half (equal jitter), so the first retry comes within
 * `baseMs` and receivers coming back from an outage are not hit in lockstep.
 */
export function callbackBackoff(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}
