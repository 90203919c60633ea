/**
 * Queue names are part of the api <-> worker contract.
 * WARNING: renaming a queue strands every job already waiting under the old
 * name. Add a new name and drain the old queue instead.
 */
export function integrationQueueName(integration: string): string {
  return `tools-${integration}`;
}

/** Trigger deliveries of webhook events to agents. */
export const TRIGGERS_QUEUE = 'triggers';

/** Signed POSTs of finished jobs to their `callbackUrl`. */
export const CALLBACKS_QUEUE = 'callbacks';

/** Alerts the api asks the worker's alerter to raise (`approval_requested`): the api never calls out itself. */
export const ALERT_REQUESTS_QUEUE = 'alert-requests';

/**
 * The BullMQ `prefix` of queue `queueName`: the broker's prefix plus a hash tag
 * of the queue's own name. BullMQ's scripts touch many keys of one queue at a
 * time, so on a Redis Cluster every key of a queue must hash to one slot; a
 * tag per queue (not one for all) lets the queues spread over the nodes. Used
 * in every mode, so single Redis and cluster share one key layout; every Queue,
 * Worker, QueueEvents or FlowProducer must be built with it, or it would look
 * at an empty queue.
 */
export function bullPrefix(prefix: string, queueName: string): string {
  return `${prefix}:{${queueName}}`;
}
