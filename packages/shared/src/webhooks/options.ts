import type { TriggerDeliveryConfig, WebhookSourceConfig } from '../config/schema';

/** @defaultValue 7 days: longer than Stripe's 3 days of retries, so dedupe outlives them. */
export const DEFAULT_WEBHOOK_RETENTION_DAYS = 7;

/** @defaultValue 1 MiB (docs/webhooks.md#what-post-hookssource-answers) */
export const DEFAULT_WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

/** The worker registers a backoff strategy for trigger jobs under this name. */
export const TRIGGER_BACKOFF_TYPE = 'broker-trigger';

/**
 * A pending delivery whose request has not enqueued it after this long is
 * enqueued by the outbox sweeper. Far longer than any request may take, so
 * the sweeper never races a live request (and if it did, the derived job id
 * keeps one job).
 * @defaultValue 15000
 */
export const OUTBOX_GRACE_MS = 15_000;

/** At least a second: Redis refuses a zero expiry, and a shorter dedupe would be none. */
export function webhookRetentionMs(source: WebhookSourceConfig): number {
  return Math.max(1000, Math.round((source.retentionDays ?? DEFAULT_WEBHOOK_RETENTION_DAYS) * 24 * 3600 * 1000));
}

/** BullMQ options for a trigger job, shaped like BullMQ's `JobsOptions` without importing BullMQ. */
export interface TriggerJobOptions {
  jobId: string;
  attempts: number;
  backoff: { type: string };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
}

/**
 * One place decides how a trigger job is queued, so the api, a replay and the
 * outbox sweeper agree. Exhausted deliveries stay in BullMQ's failed set (Bull
 * Board) as long as their event is kept.
 */
export function triggerJobOptions(deliveryId: string, delivery: TriggerDeliveryConfig, retentionMs: number): TriggerJobOptions {
  return {
    jobId: deliveryId,
    attempts: delivery.retry.attempts,
    backoff: { type: TRIGGER_BACKOFF_TYPE },
    // Never longer than the event itself: a delivered trigger is history once its event has expired.
    removeOnComplete: { age: Math.min(3600, Math.ceil(retentionMs / 1000)), count: 1000 },
    removeOnFail: { age: Math.ceil(retentionMs / 1000), count: 10_000 },
  };
}
