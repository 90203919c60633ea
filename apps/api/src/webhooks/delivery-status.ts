import type { EventDelivery } from '@broker/shared/webhooks/schema';
import type { TriggerQueue } from './trigger-queue';

/**
 * A delivery is stored `pending` and stays so until the worker picks it up:
 * ingest does not write `queued` back after handing it to BullMQ (one command
 * fewer per event, see enqueue-deliveries.ts). So a pending delivery whose
 * job exists is shown as what it is, `queued`.
 */
export function withQueuedStatus(deliveries: readonly EventDelivery[], triggers: TriggerQueue): Promise<EventDelivery[]> {
  return Promise.all(deliveries.map(async (d) => (d.status === 'pending' && (await triggers.getJobState(d.deliveryId)) !== 'unknown' ? { ...d, status: 'queued' as const } : d)));
}
