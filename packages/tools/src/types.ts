import type { FieldError } from '@broker/shared/errors/problem';
import type { Logger } from '@broker/shared/logger';
import type { Pending, StatusCheck } from './async/pending';

export type ValidationResult<T = unknown> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * What every tool shows the outside: enough to list it, document it and
 * validate a call to it, and nothing that runs it (the api needs only this).
 */
export interface ToolDescriptor {
  name: string;
  integration: string;
  description: string;
  /** Every attempt sends the same upstream idempotency key, so a retry cannot act twice. */
  idempotent: boolean;
  /** Changes state upstream: an unknown outcome must not be resent without a key. */
  write: boolean;
  apiVersion: string | null;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  /** Pointers are relative to the input (`/qty`); the api prefixes `/input`. */
  validateInput(input: unknown): ValidationResult;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below the integration's baseUrl. */
  path: string;
  query?: Record<string, unknown>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded (Stripe). */
  form?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  data: T;
}

/** The tool's handle on its integration: auth, version, timeouts, idempotency and logging applied. */
export interface IntegrationHttp {
  request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>>;
}

export interface ToolContext {
  /** The job's id: also the reference an unkeyed write carries upstream so `verify` can find its effect. */
  jobId: string;
  /**
   * When the job was submitted (epoch ms): nothing of this job can exist
   * upstream from before it, so a lookup (`verify`) can stop there.
   */
  submittedAt: number;
  /** 1 for the first try. */
  attempt: number;
  connection: string;
  /** Derived from the job: the same on every attempt and after a crash. */
  idempotencyKey: string;
  http: IntegrationHttp;
  logger: Logger;
  signal: AbortSignal;
  reportProgress(progress: unknown): Promise<void>;
  /**
   * Holds every call of this integration back, for every worker, for `ms` —
   * what a `Retry-After` does, for budgets an API reports in the body instead
   * of headers (GraphQL query cost). Absent outside the worker.
   */
  pauseIntegration?(ms: number, reason: string): Promise<void>;
}

/**
 * What a lookup of an earlier try's effect found (docs/configuration.md#writes-without-an-idempotency-key-reference-and-verify;
 * "No write is applied twice" in docs/api.md#guarantees): `found` with the tool's output (the output schema is
 * applied to it), or cleanly absent — the upstream said so (a 404, an empty
 * list), so a resend carrying the same reference cannot apply the write twice.
 * A lookup that cannot tell throws; the job then ends OUTCOME_UNKNOWN.
 */
export type EarlierEffect<O = unknown> = { found: true; output: O } | { found: false };

/** A tool the worker can run. */
export interface RunnableTool extends ToolDescriptor {
  validateOutput(output: unknown): ValidationResult;
  /** The output, or `pending(reference, …)` when the upstream finishes later (see async/pending.ts). */
  run(input: unknown, ctx: ToolContext): Promise<unknown | Pending>;
  /**
   * For a write without an idempotency key: every try carries the job's
   * reference (`ctx.jobId`) upstream, and this finds what an earlier try with
   * it did. The worker calls it before a write whose earlier try may have
   * reached the upstream is sent again; without it such a job ends
   * OUTCOME_UNKNOWN instead.
   */
  verify?(input: unknown, ctx: ToolContext): Promise<EarlierEffect>;
  /** Asks the upstream whether the operation behind `reference` has finished (async tools that poll). */
  checkStatus?(reference: string, input: unknown, ctx: ToolContext): Promise<StatusCheck>;
  /** Shapes what a completing webhook event holds (at its `resultPath`) into the output; default: as it is. */
  resultFromEvent?(value: unknown, input: unknown): unknown;
}
