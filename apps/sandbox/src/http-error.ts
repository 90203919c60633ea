/**
 * An error that maps straight onto a JSON error response. Handlers throw it so the
 * status code lives next to the check that produced it, not in a central switch.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}
