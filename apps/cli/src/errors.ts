/** Exit codes: 0 done, 1 the command failed, 2 it was called wrongly. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong arguments: the message and the command's usage are printed, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command ran and failed (Redis away, job unknown, API refused): exit 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}
