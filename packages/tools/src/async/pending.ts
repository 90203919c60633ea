import type { ToolError } from '../tool-error';

/*
 * Async tools: an upstream that answers "accepted, here is a reference" and
 * finishes later. A tool's `run` returns `pending(reference, …)` instead of
 * its output; the worker keeps the job `running` and finishes it when the
 * tool's `checkStatus` says so (polling, with backoff, between delayed
 * re-queues: no worker slot is held), when a verified webhook event carrying
 * the reference arrives, or with `TIMEOUT` at the deadline.
 */

/** A webhook event that ends the wait: `path` in the event holds the reference. */
export interface PendingWebhook {
  /** A source of the config's `webhooks` (the built-in tools use the integration's name, e.g. `stripe`). */
  source: string;
  /** Exact event type(s) that complete the job, e.g. `payment_intent.succeeded`. */
  event: string | readonly string[];
  /** Exact event type(s) that fail it, e.g. `payment_intent.payment_failed`. */
  failEvent?: string | readonly string[];
  /** JSON path of the reference in the event, e.g. `$.data.object.id`. */
  path: string;
  /** JSON path of the result in the event. @defaultValue the whole event body */
  resultPath?: string;
}

export interface PendingPoll {
  /** The first check waits this long; each next one twice as long as the last. @defaultValue 2000 */
  intervalMs?: number;
  /** @defaultValue 60000 */
  maxIntervalMs?: number;
}

export interface PendingOptions {
  /** Ask the tool's `checkStatus` with backoff. */
  poll?: PendingPoll;
  webhook?: PendingWebhook;
  /** The job fails `TIMEOUT` this long after the first call. @defaultValue 900000 (15 min) */
  deadlineMs?: number;
  /** Shown in the job's `progress.upstream` while it waits. */
  progress?: unknown;
}

export const DEFAULT_POLL_INTERVAL_MS = 2000;
export const DEFAULT_POLL_MAX_INTERVAL_MS = 60_000;
export const DEFAULT_ASYNC_DEADLINE_MS = 15 * 60 * 1000;
/** A wait longer than this is refused: job records and webhook events are not kept much longer. */
export const MAX_ASYNC_DEADLINE_MS = 7 * 24 * 3600 * 1000;

/** What `run` returns when the upstream accepted the work and will finish it later. */
export class Pending {
  readonly reference: string;
  constructor(
    reference: string | number,
    readonly options: PendingOptions,
  ) {
    this.reference = String(reference);
  }
}

/** `return pending(payout.id, { poll: {}, deadlineMs: 3_600_000 })` from a tool's `run`. */
export function pending(reference: string | number, options: PendingOptions): Pending {
  return new Pending(reference, options);
}

export function isPending(value: unknown): value is Pending {
  return value instanceof Pending;
}

/** What a status check found. A thrown ToolError is a failed check (retried when retryable), not a failed operation. */
export type StatusCheck<O = unknown> = { state: 'pending'; progress?: unknown } | { state: 'done'; output: O } | { state: 'failed'; error: ToolError };
