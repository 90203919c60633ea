import type { Queue } from 'bullmq';
import type { QueueDepth, QueueDepthSource } from '@broker/shared/metrics';

/** The BullMQ states broker_queue_jobs reports. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;

/**
 * @defaultValue 1000 ms: a scrape must answer while Redis is slow or away
 * (Prometheus' own timeout is 10 s by default); a queue that did not answer in
 * time is left out of that scrape rather than holding it.
 */
export const QUEUE_DEPTH_TIMEOUT_MS = 1000;

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** Reads every queue's job counts (one Redis call per queue, in parallel) when Prometheus scrapes. */
export function queueDepthSource(queues: () => readonly Queue[], timeoutMs = QUEUE_DEPTH_TIMEOUT_MS): QueueDepthSource {
  return async () => {
    const rows: QueueDepth[] = [];
    await Promise.all(
      queues().map(async (queue) => {
        const counts = await within(queue.getJobCounts(...QUEUE_STATES), timeoutMs);
        if (!counts) return;
        for (const state of QUEUE_STATES) rows.push({ queue: queue.name, state, count: counts[state] ?? 0 });
      }),
    );
    return rows;
  };
}
