import { CorrelationStore } from '@broker/redis/async/correlation-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import type { RedisClient } from '@broker/redis/connection';
import type { ToolQueue } from '../jobs/queues';

/** A stored event, as the correlation step needs it. */
export interface StoredEventRef {
  /** `<source>:<eventId>`. */
  id: string;
  source: string;
  type: string;
  body: Buffer;
  /** The JSON paths waiting jobs read in events of this source and type (from the ingest script). */
  paths: readonly string[];
}

export type CorrelateEvent = (event: StoredEventRef) => Promise<void>;

function parsed(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * After a new verified event is stored: the async jobs waiting for it
 * (`correlation:<source>:<type>:<reference>`) are claimed for it and their
 * delayed BullMQ jobs promoted, so a worker finishes each at once with the
 * event's data. A job not delayed at that moment (a worker is running it)
 * finds the claim itself before it goes back to sleep; an event stored
 * before its job began waiting is found by the worker in the stored events.
 */
export function correlationHook(deps: { redis: RedisClient; keys: RedisKeys; queues: ReadonlyMap<string, ToolQueue>; metrics: Metrics; logger: Logger }): CorrelateEvent {
  const correlations = new CorrelationStore(deps.redis, deps.keys);
  return async (event) => {
    const body = parsed(event.body);
    if (body === undefined || body === null || typeof body !== 'object') return;
    const matched = await correlations.match(event.source, event.type, event.id, body, event.paths);
    for (const { jobId, integration } of matched) {
      deps.metrics.webhookCorrelations.inc({ source: event.source });
      deps.logger.info({ eventId: event.id, jobId, integration }, 'webhook event completes a waiting job');
      const job = await deps.queues.get(integration)?.getJob(jobId);
      // Not delayed (running right now, or already woken): the worker sees the claim on its own.
      await job?.promote().catch(() => undefined);
    }
  };
}
