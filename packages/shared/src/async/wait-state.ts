import { z } from 'zod';

/**
 * What a job of an async tool carries in its BullMQ payload while it waits
 * for its upstream operation (written by the worker only). Its presence is
 * what tells the worker that a run of the job is a status check, not a try.
 */
export const asyncWaitSchema = z.object({
  /** The upstream reference (a payout id, an export id): shown in `progress` and in a `TIMEOUT` error. */
  reference: z.string().min(1).max(512),
  /** When the wait began (ms since epoch). */
  since: z.number(),
  /** When it fails `TIMEOUT` (ms since epoch). */
  deadline: z.number(),
  poll: z
    .object({
      /** When the next status check is due (ms since epoch). */
      nextAt: z.number(),
      /** The wait that led up to `nextAt`; doubled (up to `maxIntervalMs`) after each check. */
      intervalMs: z.int().positive(),
      maxIntervalMs: z.int().positive(),
    })
    .optional(),
  webhook: z
    .object({
      source: z.string(),
      events: z.array(z.string()).min(1),
      failEvents: z.array(z.string()),
      path: z.string(),
      resultPath: z.string().optional(),
    })
    .optional(),
  /** Status checks made so far. */
  checks: z.int().min(0),
  /** The tool's last progress report (a pending status check's, or the first answer's). */
  upstream: z.unknown().optional(),
});
export type AsyncWait = z.infer<typeof asyncWaitSchema>;

/** What an async job shows as `progress` while it waits (the reference included, so an agent can follow up). */
export interface AsyncWaitProgress {
  /** `waiting` until the job ends; then how the wait ended. */
  state: 'waiting' | 'done' | 'failed' | 'timed_out';
  reference: string;
  /** How completion will be noticed. */
  via: ('poll' | 'webhook')[];
  deadline: string;
  checks: number;
  nextCheckAt?: string;
  upstream?: unknown;
  lastError?: string;
}

export function waitProgress(wait: AsyncWait, lastError?: string, state: AsyncWaitProgress['state'] = 'waiting'): AsyncWaitProgress {
  const progress: AsyncWaitProgress = {
    state,
    reference: wait.reference,
    via: [...(wait.poll ? (['poll'] as const) : []), ...(wait.webhook ? (['webhook'] as const) : [])],
    deadline: new Date(wait.deadline).toISOString(),
    checks: wait.checks,
  };
  if (wait.poll && state === 'waiting') progress.nextCheckAt = new Date(Math.min(wait.poll.nextAt, wait.deadline)).toISOString();
  if (wait.upstream !== undefined) progress.upstream = wait.upstream;
  if (lastError) progress.lastError = lastError;
  return progress;
}
