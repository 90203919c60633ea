import { ProblemError, type FieldError } from '@broker/shared/errors/problem';
import { idempotencyKeyOf } from '../jobs/idempotency';

/**
 * How long a tool call waits for its job before answering with the job id
 * and status instead (the agent then calls `get_job`). Below common proxy and
 * MCP client timeouts (60 s), and below the REST long-poll's 30 s ceiling.
 * A call may ask for less with `_meta["broker/waitMs"]`.
 * @defaultValue 25000
 */
export const MCP_WAIT_MS = 25_000;

/**
 * What an MCP call can say beyond the tool's input, in `params._meta` (the
 * arguments are the tool's input, exactly as its schema describes them):
 * - `broker/idempotencyKey`: like the `Idempotency-Key` header;
 * - `broker/connection`: the integration's credential to use;
 * - `broker/callbackUrl`: like `callbackUrl` of `POST /v1/jobs`;
 * - `broker/waitMs`: wait at most this long (0..25000) for the result.
 */
export interface CallOptions {
  idempotencyKey?: string | undefined;
  connection?: string;
  callbackUrl?: string;
  waitMs: number;
}

const META = {
  idempotencyKey: 'broker/idempotencyKey',
  connection: 'broker/connection',
  callbackUrl: 'broker/callbackUrl',
  waitMs: 'broker/waitMs',
} as const;

const pointer = (key: string) => `/_meta/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** Reads a wait bound: an integer of milliseconds within 0..max. */
export function waitMsOf(value: unknown, at: string, max = MCP_WAIT_MS): number | FieldError {
  if (value === undefined) return max;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    return { pointer: at, message: `must be an integer from 0 to ${max}` };
  }
  return value;
}

export function callOptionsOf(meta: Record<string, unknown> | undefined): CallOptions {
  const m = meta ?? {};
  const errors: FieldError[] = [];
  const key = m[META.idempotencyKey];
  if (key !== undefined && typeof key !== 'string') {
    throw new ProblemError('INVALID_IDEMPOTENCY_KEY', 'broker/idempotencyKey must be a string of 1 to 255 printable ASCII characters.');
  }
  const options: CallOptions = { idempotencyKey: key === undefined ? undefined : idempotencyKeyOf([key]), waitMs: MCP_WAIT_MS };
  for (const field of ['connection', 'callbackUrl'] as const) {
    const value = m[META[field]];
    if (value === undefined) continue;
    if (typeof value === 'string') options[field] = value;
    else errors.push({ pointer: pointer(META[field]), message: 'must be a string' });
  }
  const waitMs = waitMsOf(m[META.waitMs], pointer(META.waitMs));
  if (typeof waitMs === 'number') options.waitMs = waitMs;
  else errors.push(waitMs);
  if (errors.length > 0) throw new ProblemError('VALIDATION_ERROR', 'Invalid call options.', errors);
  return options;
}
