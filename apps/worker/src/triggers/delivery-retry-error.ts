/**
 * A delivery try failed and will be tried again after `delayMs` (backoff, or
 * the receiver's Retry-After). The trigger worker's backoff strategy reads
 * the delay from it, so the `nextRetryAt` recorded on the event is the real one.
 */
export class DeliveryRetryError extends Error {
  override readonly name = 'DeliveryRetryError';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}
