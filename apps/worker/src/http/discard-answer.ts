import type { Readable } from 'node:stream';

/**
 * Lets go of an answer whose body is never used (a webhook receiver's): it is
 * drained in the background up to the client's `maxBytes`, so a short answer
 * leaves its keep-alive connection reusable, and a longer one is cut off there.
 */
export function discardAnswer(body: Readable): void {
  body.on('error', () => undefined);
  body.resume();
}
