import { z } from 'zod';

/**
 * A completion callback (docs/callbacks.md): one signed POST of a finished job to
 * its `callbackUrl`, delivered by the worker from CALLBACKS_QUEUE. The payload
 * names the job only; the deliverer reads the job record for the URL and the
 * body, so nothing in the queue can disagree with what agents read.
 */
export const callbackJobDataSchema = z.object({ jobId: z.string() });
export type CallbackJobData = z.infer<typeof callbackJobDataSchema>;

/** The BullMQ job name of a callback delivery. */
export const CALLBACK_JOB_NAME = 'job.finished';

/** The worker registers a backoff strategy for callbacks under this name (jitter, Retry-After). */
export const CALLBACK_BACKOFF_TYPE = 'broker-callback';

/**
 * Tries per delivery, the first included: with {@link CALLBACK_BASE_DELAY_MS}
 * doubling up to {@link CALLBACK_MAX_DELAY_MS}, 15 tries span 1 to 2
 * hours, enough to ride out a receiver's deploy or a short outage.
 * @defaultValue 15
 */
export const CALLBACK_ATTEMPTS = 15;
/** The first retry comes within 1 s (the contract asks for within 5 s). @defaultValue 1000 */
export const CALLBACK_BASE_DELAY_MS = 1000;
/** @defaultValue 30 minutes */
export const CALLBACK_MAX_DELAY_MS = 30 * 60 * 1000;

/**
 * One delivery per run of a broker job: the BullMQ job id is derived from the
 * job id (and, once its agent retried it, the retry's number), so whoever sees
 * the run finish (a worker, the api's cancel, a re-run after a crash) may
 * enqueue it, and BullMQ keeps only the first. A retried job's new end gets a
 * delivery of its own even while the earlier one is still being delivered.
 */
export const callbackJobId = (jobId: string, retries = 0): string => (retries > 0 ? `cb-${jobId}-r${retries}` : `cb-${jobId}`);

/**
 * `webhook-id` of the delivery: the same on every retry, so a receiver can drop duplicates.
 * A job its agent retried (`retries` of its record, `POST /v1/jobs/{id}/retry`)
 * finishes again: that end is a new message, so it gets an id of its own, or a
 * receiver that dedupes on it would drop it. @defaultValue retries 0: `msg_<job id>`
 */
export const callbackWebhookId = (jobId: string, retries = 0): string => (retries > 0 ? `msg_${jobId}_r${retries}` : `msg_${jobId}`);

export interface CallbackJobOptions {
  jobId: string;
  attempts: number;
  backoff: { type: string };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
}

/**
 * Delivered callbacks are kept as long as the job record lives, so a late
 * second enqueue of the same job finds the id taken and does nothing; failed
 * ones stay visible (and retryable) in Bull Board just as long.
 */
export function callbackJobOptions(jobId: string, retentionSeconds: number, retries = 0): CallbackJobOptions {
  return {
    jobId: callbackJobId(jobId, retries),
    attempts: CALLBACK_ATTEMPTS,
    backoff: { type: CALLBACK_BACKOFF_TYPE },
    removeOnComplete: { age: retentionSeconds, count: 100_000 },
    removeOnFail: { age: retentionSeconds, count: 100_000 },
  };
}
