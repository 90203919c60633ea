import { TOOL_ERROR_CODES, VaultError, type JobError, type ToolErrorCode } from '@broker/shared';

export interface ToolErrorOptions {
  message: string;
  /** Overrides the code's default retry meaning (e.g. a timeout on an unsafe write). */
  retryable?: boolean;
  upstreamStatus?: number;
  /** From `Retry-After`, already capped: wait at least this long before the next call. */
  retryAfterMs?: number;
  /** Upstream request id, kept for support tickets. */
  requestId?: string;
  cause?: unknown;
}

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

  constructor(code: ToolErrorCode, options: ToolErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? TOOL_ERROR_CODES[code].retryable;
    this.upstreamStatus = options.upstreamStatus;
    this.retryAfterMs = options.retryAfterMs;
    this.requestId = options.requestId;
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
  if (err instanceof VaultError) return new ToolError('UPSTREAM_ERROR', { message: `secrets provider: ${err.message}`, retryable: true });
  const message = err instanceof Error ? err.message : String(err);
  return new ToolError('UNKNOWN', { message: `unexpected failure: ${message}`, cause: err });
}
