/**
 * Whether a receiver's answer ends a trigger delivery for good (docs/webhooks.md#trigger-delivery):
 * any 4xx but 408 Request Timeout and 429 Too Many Requests, which say "later",
 * not "no". The receiver refused this message (a bad token, an unknown agent,
 * a body it will not take, 410 Gone) and resending the same bytes gets the
 * same answer, so the delivery fails at once and stays visible as failed,
 * for an operator to fix and replay. 5xx, 408, 429, redirects, timeouts and
 * network errors (`status` undefined) are retried.
 */
export function isFinalAnswer(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
