import { TOOL_ERROR_CODES, type ToolErrorCode } from '@broker/shared/errors/codes';
import { VaultError } from './secrets/vault';
import type { JobError } from '@broker/shared/jobs/schema';

export interface ToolErrorOptions {
  message: string;
  /** Overrides the code's default retry meaning (e.g. a timeout on an unsafe write). */
  retryable?: boolean;
  upstreamStatus?: number;
  /** From `Retry-After`, already capped: wait at least this long before the next call. */
  retryAfterMs?: number;
  /** Upstream request id, kept for support tickets. */
  requestId?: string;
  /** Where the failure happened (see {@link FailureStage}); absent for an HTTP answer or a tool's own check. */
  stage?: FailureStage;
  /** The failed request was a write sent without an idempotency key: resending it after `exchange` could act twice. */
  writeWithoutKey?: boolean;
  cause?: unknown;
}

/**
 * How far a failed call got, for the circuit breaker and the retry decision:
 * - `prepare`: inside the broker, before any request left (credentials, the
 *   secrets provider, the token endpoint, the call gate): says nothing about
 *   the upstream's health, and nothing was done upstream;
 * - `connect`: the request never reached the upstream (connection refused, DNS,
 *   a reused keep-alive socket reset before the request was written): the
 *   upstream may be down, but resending cannot act twice;
 * - `exchange`: the request was sent and no full answer came (timeout, reset):
 *   it may have taken effect upstream.
 */
export type FailureStage = 'prepare' | 'connect' | 'exchange';

/**
 * A failure an agent can reason about: a stable `code` and whether trying again
 * may help. Everything a tool throws reaches the job as one of these.
 */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  readonly code: ToolErrorCode;
  readonly retryable: boolean;
  readonly upstreamStatus: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  readonly stage: FailureStage | undefined;
  readonly writeWithoutKey: boolean;

  constructor(code: ToolErrorCode, options: ToolErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? TOOL_ERROR_CODES[code].retryable;
    this.upstreamStatus = options.upstreamStatus;
    this.retryAfterMs = options.retryAfterMs;
    this.requestId = options.requestId;
    this.stage = options.stage;
    this.writeWithoutKey = options.writeWithoutKey ?? false;
  }

  toJobError(retryAt?: Date): JobError {
    const error: JobError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.upstreamStatus !== undefined) error.upstreamStatus = this.upstreamStatus;
    if (retryAt) error.retryAt = retryAt.toISOString();
    return error;
  }
}

/** Anything thrown by a tool that is not a ToolError is an UNKNOWN failure. */
export function asToolError(err: unknown): ToolError {
  if (err instanceof ToolError) return err;
  // Vault unreachable or refusing: the call never left; trying later may succeed.
  if (err instanceof VaultError) return new ToolError('UPSTREAM_ERROR', { message: `secrets provider: ${err.message}`, retryable: true, stage: 'prepare' });
  const message = err instanceof Error ? err.message : String(err);
  return new ToolError('UNKNOWN', { message: `unexpected failure: ${message}`, cause: err });
}
