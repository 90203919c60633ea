import type { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { CALLBACKS_QUEUE } from '@broker/shared/queues';
import { CALLBACK_JOB_NAME, callbackJobOptions, type CallbackJobData } from '@broker/shared/jobs/callback-job';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import { producerQueue } from './producer-queue';

export type CallbackQueue = Queue<CallbackJobData>;

/** The producer side of CALLBACKS_QUEUE: the api queues the callbacks of the jobs it cancels. */
export function createCallbackQueue(connection: RedisClient, prefix: string, logger: Logger): CallbackQueue {
  return producerQueue<CallbackJobData>(CALLBACKS_QUEUE, connection, prefix, logger);
}

/**
 * Queues the callback of a job this api finished (cancelled), when it has a
 * callbackUrl; the worker delivers it. The BullMQ job id is derived from the
 * job, so this cannot queue a second delivery of the same job.
 */
export async function queueCallback(queue: CallbackQueue, record: JobRecord, retentionSeconds: number): Promise<void> {
  if (!record.callbackUrl) return;
  await queue.add(CALLBACK_JOB_NAME, { jobId: record.id }, callbackJobOptions(record.id, retentionSeconds, record.retries ?? 0));
}
