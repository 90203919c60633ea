import { Queue } from 'bullmq';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { asyncConfig, startBroker, type Broker } from './harness';
import { bullPrefix } from '@broker/shared/queues';

/**
 * A waiting async job holds no worker slot: it sleeps as a delayed BullMQ
 * job between checks. At concurrency 1, a dozen jobs waiting for their
 * upstream (polled every 200 ms, and for a webhook) leave room for a normal
 * job of the same integration.
 */
let stub: StubServer;
let broker: Broker;

beforeAll(async () => {
  let next = 0;
  stub = await StubServer.start((req) => {
    if (req.method === 'POST' && req.path === '/payouts') return { status: 202, body: { id: `po_${++next}`, status: 'pending' } };
    if (req.path.startsWith('/payouts/')) return { body: { status: 'pending' } };
    if (req.path === '/ping') return { body: { pong: true } };
    return { status: 404, body: {} };
  });
  const config = asyncConfig({
    integrations: {
      slow: {
        baseUrl: stub.url,
        concurrency: 1,
        tools: [
          {
            name: 'slow.createPayout',
            method: 'POST',
            path: '/payouts',
            async: {
              referencePath: '$.id',
              deadlineMs: 60_000,
              poll: { path: '/payouts/{reference}', doneWhen: { path: '$.status', equals: 'paid' }, intervalMs: 200, maxIntervalMs: 200 },
              webhook: { source: 'acme', event: 'payout.paid', path: '$.data.id' },
            },
          },
          { name: 'slow.ping', method: 'GET', path: '/ping' },
        ],
      },
    },
  });
  broker = await startBroker('async-slots', config);
});

afterAll(async () => {
  await broker.close();
  await stub.close();
});

it('runs a normal job while many async jobs of the same integration wait, at concurrency 1', async () => {
  const waiting = await Promise.all(Array.from({ length: 12 }, () => broker.submit('slow.createPayout', {})));
  // Each reached its wait: with one slot, none of them can be holding it.
  await Promise.all(waiting.map((job) => broker.waiting(job.id)));

  const started = Date.now();
  const ping = await broker.submit('slow.ping', {});
  expect(await broker.settled(ping.id, 3000)).toMatchObject({ status: 'succeeded', result: { pong: true } });
  expect(Date.now() - started).toBeLessThan(3000);

  // They are still waiting, and still being checked.
  const statuses = await Promise.all(waiting.map(async (job) => (await broker.get(job.id)).status));
  expect(new Set(statuses)).toEqual(new Set(['running']));
  await waitFor(() => stub.count((r) => r.path.startsWith('/payouts/')) >= 12, { what: 'a status check of each' });
  // The one worker slot is free between checks: every waiting job sleeps as a
  // delayed job or queues for its next check, and at most one holds the slot.
  const queue = new Queue('tools-slow', { connection: broker.h.redis, prefix: bullPrefix(broker.h.prefix, 'tools-slow') });
  const counts = await queue.getJobCounts('active', 'delayed', 'waiting', 'prioritized', 'completed', 'failed');
  expect(counts.active).toBeLessThanOrEqual(1);
  expect(counts.active! + counts.delayed! + counts.waiting! + counts.prioritized!).toBe(12);
  expect(counts.failed).toBe(0);
  await queue.close();
});
