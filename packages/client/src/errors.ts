import type { FieldError, Job, Problem } from './types';

/**
 * The API refused a request: carries the problem+json body's `code` (stable,
 * switch on it), the HTTP status, the field errors, and `Retry-After` when the
 * API sent one. A body that is not problem+json (a proxy's 502 page) still
 * becomes one, with code `HTTP_<status>`.
 */
export class BrokerApiError extends Error {
  override readonly name = 'BrokerApiError';
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];
  /** Seconds, from `Retry-After` (503 `UNAVAILABLE`). */
  readonly retryAfter: number | undefined;
  readonly problem: Problem;

  constructor(problem: Problem, retryAfter?: number) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.problem = problem;
    this.status = problem.status;
    this.code = problem.code;
    this.errors = problem.errors ?? [];
    this.retryAfter = retryAfter;
  }

  /** Worth sending again later: the API was unavailable or rate limited. */
  get retryable(): boolean {
    return this.status === 503 || this.status === 429;
  }
}

/** {@link BrokerClient.wait} gave up before the job finished; `job` is the last state seen. */
export class BrokerTimeoutError extends Error {
  override readonly name = 'BrokerTimeoutError';
  constructor(readonly job: Job) {
    super(`job ${job.id} is still ${job.status}`);
  }
}
