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
