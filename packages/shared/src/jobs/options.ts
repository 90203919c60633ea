import type { IntegrationConfig } from '../config/schema';

/** The worker registers a backoff strategy under this name (full jitter, Retry-After). */
export const BACKOFF_TYPE = 'broker-jitter';

/** BullMQ options for a tool job, shaped like BullMQ's `JobsOptions` without importing BullMQ. */
export interface ToolJobOptions {
  jobId: string;
  attempts: number;
  backoff: { type: string };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
  /** ms: a job held for approval waits (BullMQ `delayed`) until its hold runs out, unless an approval promotes it first. */
  delay?: number;
}

/**
 * One place decides how a tool job is queued, so the api (which adds it) and
 * the worker (which retries it) agree. BullMQ keeps only a bounded tail of
 * finished jobs; the job record holds results for `retention.jobSeconds`.
 */
export function toolJobOptions(jobId: string, integration: IntegrationConfig, retentionSeconds: number): ToolJobOptions {
  return {
    jobId,
    attempts: integration.retry.attempts,
    backoff: { type: BACKOFF_TYPE },
    // The record is the truth agents read; BullMQ's copy (input included) never outlives it.
    removeOnComplete: { age: Math.min(3600, retentionSeconds), count: 1000 },
    // Failed jobs stay visible in Bull Board as long as their record lives.
    removeOnFail: { age: retentionSeconds, count: 10_000 },
  };
}
