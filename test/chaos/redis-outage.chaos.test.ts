import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, TriggerReceiver, type BrokerProcess, type Exchange } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantees: nothing acknowledged is lost; a Redis outage is answered 503
 * fast and recovered from without a restart. Webhooks and jobs flow through
 * the API while its Redis (AOF, `appendfsync always`) is killed with SIGKILL
 * and then restarted on the same data: every event answered 2xx is still
 * stored and its trigger is delivered (once: one webhook-id), every job
 * answered 202 completes and its order is made once; during the outage every
 * request is answered 503 with Retry-After within 2 s; the same API and worker
 * processes carry on once Redis is back.
 */
const OUTAGE_MS = 3000;
let redis: PrivateRedis;
let upstream: OrderUpstream;
let receiver: TriggerReceiver;
let deployment: Deployment;
let client: BrokerClient;
let api: BrokerProcess;
let worker: BrokerProcess;

beforeAll(async () => {
  redis = await PrivateRedis.start({ aof: true });
  upstream = await OrderUpstream.start();
  receiver = await TriggerReceiver.start();
  deployment = new Deployment(redis.url, { upstreamUrl: upstream.url, receiverUrl: receiver.url });
  const [started, w] = await Promise.all([deployment.api(), deployment.worker('W')]);
  api = started.proc;
  worker = w;
  client = new BrokerClient(started.base);
}, 30_000);

afterAll(async () => {
  await deployment?.stopAll();
  await Promise.all([upstream?.close(), receiver?.close()]);
  await redis?.stop();
});

type Sent = Exchange & { kind: 'event' | 'job'; eventId?: string };

it('keeps every acknowledged event and job through a Redis crash, answers 503 within 2 s meanwhile, and recovers without a restart', async () => {
  const sent: Sent[] = [];
  let running = true;
  const loop = async (kind: 'event' | 'job') => {
    for (let i = 0; running; i++) {
      if (kind === 'event') sent.push({ kind, ...(await client.postStripeEvent()) });
      else sent.push({ kind, ...(await client.submitOrder()) });
      await delay(20);
    }
  };
  const loops = Promise.all([loop('event'), loop('event'), loop('job'), loop('job')]);
  const count = (kind: Sent['kind'], ok: (x: Sent) => boolean, since = 0) => sent.filter((x) => x.kind === kind && x.startedAt >= since && ok(x)).length;
  const is2xx = (x: Sent) => x.status >= 200 && x.status < 300;

  await waitFor(() => count('event', is2xx) >= 60 && count('job', is2xx) >= 60, { what: 'traffic before the crash' });
  await redis.kill();
  const killedAt = Date.now();
  // The outage lasts OUTAGE_MS, with the traffic going on (and answered 503) all along.
  await waitFor(() => Date.now() - killedAt >= OUTAGE_MS && count('event', (x) => x.status === 503, killedAt) >= 20 && count('job', (x) => x.status === 503, killedAt) >= 20, {
    what: '503s during the outage',
  });
  const relaunchAt = Date.now();
  await redis.launch();
  const upAt = Date.now();
  // Recovery without a restart: the same processes accept again, then a little more traffic.
  await waitFor(() => count('event', is2xx, upAt) >= 30 && count('job', is2xx, upAt) >= 30, { timeoutMs: 15_000, what: 'the API to accept again' });
  running = false;
  await loops;
  expect([api.child.exitCode, worker.child.exitCode]).toEqual([null, null]);

  // Every request got an answer, and none took 2 s or more.
  expect(sent.filter((x) => x.error !== undefined)).toEqual([]);
  expect(sent.filter((x) => x.ms >= 2000).map((x) => [x.kind, x.status, x.ms])).toEqual([]);
  // Requests sent while Redis was down: 503 UNAVAILABLE with Retry-After, every one.
  const duringOutage = sent.filter((x) => x.startedAt > killedAt + 200 && x.startedAt + x.ms < relaunchAt);
  expect(duringOutage.length).toBeGreaterThanOrEqual(40);
  expect(duringOutage.filter((x) => x.status !== 503 || x.body?.code !== 'UNAVAILABLE' || !x.headers?.get('retry-after'))).toEqual([]);

  // Every acknowledged event is stored and its trigger delivered, under one webhook-id.
  const acknowledged = sent.filter((x) => x.kind === 'event' && x.status === 200).map((x) => x.eventId!);
  for (const eventId of acknowledged) expect((await client.getEvent(`stripe:${eventId}`)).status).toBe(200);
  // Triggers whose enqueue met the crash are picked up by the outbox sweeper (15 s grace, swept every 5 s).
  const deliveries = await waitFor(
    () => {
      const byEvent = receiver.deliveriesByEvent();
      return acknowledged.every((id) => byEvent.has(id)) && byEvent;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'a trigger for every acknowledged event' },
  );
  expect([...deliveries].filter(([, ids]) => ids.size !== 1)).toEqual([]);

  // Every job answered 202 completes, its order made once. Jobs answered 503 whose write had landed may run too.
  const accepted = sent.filter((x) => x.kind === 'job' && x.status === 202).map((x) => x.body.id as string);
  const stored = (await redis.client().keys('chaos:job:*')).map((k) => k.slice(k.lastIndexOf(':') + 1));
  const ledger = await balanceJobs(client, upstream, accepted, { known: stored });
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(accepted.length);

  const events = sent.filter((x) => x.kind === 'event');
  const jobs = sent.filter((x) => x.kind === 'job');
  console.info(
    `redis outage (${relaunchAt - killedAt} ms): events posted ${events.length}, acknowledged ${acknowledged.length}, ` +
      `503 ${events.filter((x) => x.status === 503).length}, delivered after recovery ${acknowledged.filter((id) => deliveries.has(id)).length}/${acknowledged.length}; ` +
      `jobs posted ${jobs.length}, accepted ${accepted.length}, 503 ${jobs.filter((x) => x.status === 503).length}, succeeded ${ledger.succeeded}, ` +
      `orders made ${upstream.effects.size}, duplicated ${ledger.duplicated.length}; slowest 503 ${Math.max(...duringOutage.map((x) => x.ms))} ms`,
  );
}, 75_000);
