import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, TriggerReceiver, type BrokerProcess, type Exchange } from './broker';
import type { PrivateRedis } from './private-redis';
import { SentinelGroup } from './private-sentinel';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: losing the Redis primary's machine is a failover, not a loss.
 * A primary, two replicas and three sentinels; the broker connects through
 * the sentinels (`REDIS_SENTINELS`) with `durability: "replicated"` (a 200 or
 * 202 only once a replica has the write). Webhooks and jobs flow while the
 * primary is killed with SIGKILL, and each client retries what got a 503
 * with the same event id or Idempotency-Key, as providers and agents do.
 * Every acknowledged event is stored and delivered, every accepted job
 * finishes with its order made once, every request is answered within 2 s,
 * and the same api and worker processes carry on against the promoted replica.
 */
let group: SentinelGroup;
let upstream: OrderUpstream;
let receiver: TriggerReceiver;
let deployment: Deployment;
let client: BrokerClient;
let processes: BrokerProcess[];

beforeAll(async () => {
  group = await SentinelGroup.start({ replicas: 2, downAfterMs: 1000 });
  upstream = await OrderUpstream.start();
  receiver = await TriggerReceiver.start();
  const primary = await group.primary();
  // REDIS_URL names the first primary only for tools outside the broker; the broker asks the sentinels.
  deployment = new Deployment(primary.url, { upstreamUrl: upstream.url, receiverUrl: receiver.url, durability: 'replicated' }, { REDIS_SENTINELS: group.sentinelsEnv });
  const [started, a, b] = await Promise.all([deployment.api(), deployment.worker('A'), deployment.worker('B')]);
  client = new BrokerClient(started.base);
  processes = [started.proc, a, b];
}, 60_000);

afterAll(async () => {
  await deployment?.stopAll();
  await Promise.all([upstream?.close(), receiver?.close()]);
  await group?.stop();
});

type Sent = Exchange & { kind: 'event' | 'job'; key: string; eventId?: string };

it('keeps every acknowledged event and job through the loss of the primary, answering within 2 s, without restarting a broker process', async () => {
  const sent: Sent[] = [];
  const acknowledged = { events: new Set<string>(), jobs: new Map<string, string>() };
  let running = true;
  let n = 0;
  /** One logical request, sent again after a 503 with the same id, until acknowledged (or the test stops). */
  const deliverOne = async (kind: Sent['kind']) => {
    const key = `${kind}-${n++}`;
    while (running) {
      const x: Exchange & { eventId?: string } = kind === 'event' ? await client.postStripeEvent(`evt_${key.replace(/-/g, '')}`) : await client.submitOrder(key);
      sent.push({ kind, key, ...x });
      if (x.status >= 200 && x.status < 300) {
        if (kind === 'event') acknowledged.events.add(x.eventId!);
        else acknowledged.jobs.set(key, x.body.id as string);
        return;
      }
      await delay(100);
    }
  };
  const loop = async (kind: Sent['kind']) => {
    while (running) {
      await deliverOne(kind);
      await delay(20);
    }
  };
  const loops = Promise.all([loop('event'), loop('event'), loop('job'), loop('job')]);

  let killedAt: number;
  let promotedAt: number;
  let backAt: number;
  let promoted: PrivateRedis;
  try {
    await waitFor(() => acknowledged.events.size >= 40 && acknowledged.jobs.size >= 40, { timeoutMs: 20_000, what: 'traffic before the failover' });
    const old = await group.primary();
    await old.kill();
    killedAt = Date.now();
    promoted = await group.promotedAfter(old);
    promotedAt = Date.now();
    // Back without a restart: the same processes acknowledge again, then a little more traffic.
    const before = { events: acknowledged.events.size, jobs: acknowledged.jobs.size };
    await waitFor(() => acknowledged.events.size >= before.events + 30 && acknowledged.jobs.size >= before.jobs + 30, {
      timeoutMs: 30_000,
      what: 'acknowledgements after the failover',
    });
    backAt = Date.now();
  } finally {
    // Stop the clients even when the broker never came back, so the failure is reported instead of a hung run.
    running = false;
    await loops;
  }
  expect(processes.map((p) => p.child.exitCode)).toEqual([null, null, null]);

  // Every request was answered, 2xx or 503 (with Retry-After), within 2 s.
  expect(sent.filter((x) => x.error !== undefined).map((x) => [x.kind, x.error, x.ms])).toEqual([]);
  expect(sent.filter((x) => x.ms >= 2000).map((x) => [x.kind, x.status, x.ms])).toEqual([]);
  expect(sent.filter((x) => !(x.status >= 200 && x.status < 300) && !(x.status === 503 && x.headers?.get('retry-after'))).map((x) => [x.kind, x.status, x.body])).toEqual([]);

  // Every acknowledged event is stored on the promoted primary and its trigger delivered, under one webhook-id.
  for (const eventId of acknowledged.events) expect((await client.getEvent(`stripe:${eventId}`)).status).toBe(200);
  const deliveries = await waitFor(
    () => {
      const byEvent = receiver.deliveriesByEvent();
      return [...acknowledged.events].every((id) => byEvent.has(id)) && byEvent;
    },
    { timeoutMs: 40_000, intervalMs: 200, what: 'a trigger for every acknowledged event' },
  );
  expect([...deliveries].filter(([, ids]) => ids.size !== 1)).toEqual([]);

  // Every acknowledged job finishes, its order made once; jobs whose 202 never came may run too (their write landed).
  const accepted = [...acknowledged.jobs.values()];
  const stored = (await promoted.client().keys('chaos:job:*')).map((k) => k.slice(k.lastIndexOf(':') + 1));
  const ledger = await balanceJobs(client, upstream, accepted, { known: stored, timeoutMs: 60_000 });
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(accepted.length);

  const events = sent.filter((x) => x.kind === 'event');
  const jobs = sent.filter((x) => x.kind === 'job');
  const lost = [...acknowledged.events].filter((id) => !deliveries.has(id)).length + ledger.missing.length;
  console.info(
    `redis failover: primary SIGKILLed, replica promoted after ${((promotedAt - killedAt) / 1000).toFixed(1)} s, acknowledging again ${((backAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
      `events posted ${events.length} (${events.filter((x) => x.status === 503).length} answered 503), acknowledged ${acknowledged.events.size}, delivered ${acknowledged.events.size - lost}; ` +
      `jobs posted ${jobs.length} (${jobs.filter((x) => x.status === 503).length} answered 503), accepted ${accepted.length}, succeeded ${ledger.succeeded}, ` +
      `orders made ${upstream.effects.size}, duplicated ${ledger.duplicated.length}; lost ${lost}; slowest answer ${Math.max(...sent.map((x) => x.ms))} ms`,
  );
}, 150_000);
