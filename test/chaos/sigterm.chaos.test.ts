import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, TriggerReceiver, type Exchange } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: a deploy loses nothing. Under a burst of jobs, long-polls and
 * webhooks, the API and one of two workers get SIGTERM: requests the API had
 * already taken are answered (long-polls woken with the job as it stands),
 * the worker finishes the calls it has out — none is re-run elsewhere — and
 * both exit 0. A client re-sends what got no answer to a new API with the
 * same Idempotency-Key (or event id), the way agents and providers retry:
 * every submission ends as exactly one job, every job succeeds with its order
 * made once, and every acknowledged event is delivered.
 */
const JOBS = 120;
const EVENTS = 30;
let redis: PrivateRedis;
let upstream: OrderUpstream;
let receiver: TriggerReceiver;
let deployment: Deployment;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // 300 ms per call: the workers are busy when SIGTERM comes.
  upstream = await OrderUpstream.start({ answerDelayMs: 300 });
  receiver = await TriggerReceiver.start();
  deployment = new Deployment(redis.url, { upstreamUrl: upstream.url, receiverUrl: receiver.url });
}, 30_000);

afterAll(async () => {
  await deployment?.stopAll();
  await Promise.all([upstream?.close(), receiver?.close()]);
  await redis?.stop();
});

it('finishes in-flight requests and calls on SIGTERM, and loses no job or event across the restart', async () => {
  const [{ proc: api1, base }, w1] = await Promise.all([deployment.api('api1'), deployment.worker('W1'), deployment.worker('W2')]);
  const first = new BrokerClient(base);

  const submissions = new Map<string, Exchange[]>();
  const events = new Map<string, Exchange[]>();
  const polls: Exchange[] = [];
  const pollsInFlight: Promise<void>[] = [];
  const pollStarts: number[] = [];
  const record = <T>(map: Map<string, T[]>, key: string, x: T) => map.set(key, [...(map.get(key) ?? []), x]);

  // The burst (about a second): six submitters and two webhook senders, and a long-poll on each job once accepted.
  const lanes = <T>(n: number, items: T[], send: (item: T) => Promise<void>) =>
    Array.from({ length: n }, async (_, lane) => {
      for (let i = lane; i < items.length; i += n) {
        await send(items[i]!);
        await delay(25);
      }
    });
  const burst = Promise.all([
    ...lanes(
      6,
      Array.from({ length: JOBS }, (_, i) => `deploy-${i}`),
      async (key) => {
        const x = await first.submitOrder(key);
        record(submissions, key, x);
        if (x.status === 202) {
          pollStarts.push(Date.now());
          pollsInFlight.push(first.getJob(x.body.id, 20_000).then((p) => void polls.push(p)));
        }
      },
    ),
    ...lanes(
      2,
      Array.from({ length: EVENTS }, (_, i) => `evt_deploy_${i}`),
      async (eventId) => {
        record(events, eventId, await first.postStripeEvent(eventId));
      },
    ),
  ]);

  // SIGTERM in the middle of the burst, while the worker has calls out.
  await waitFor(() => submissions.size >= JOBS / 3 && pollStarts.filter((t) => Date.now() - t >= 200).length >= 5 && upstream.inFlight('W1').length >= 2, {
    intervalMs: 2,
    what: 'the burst under way',
  });
  const drainingCalls = upstream.inFlight('W1').map((c) => c.key);
  const sigtermAt = Date.now();
  api1.child.kill('SIGTERM');
  w1.child.kill('SIGTERM');
  const exits = Promise.all([api1.exited, w1.exited]).then((codes) => ({ codes, ms: Date.now() - sigtermAt }));
  await burst;
  await Promise.all(pollsInFlight);
  const exited = await exits;
  expect(exited.codes).toEqual([0, 0]);

  // Every long-poll the API was holding (sent well before SIGTERM) was answered, woken early with the job as it stood.
  const held = polls.filter((p) => p.startedAt < sigtermAt - 100);
  expect(held.length).toBeGreaterThanOrEqual(5);
  expect(held.filter((p) => p.status !== 200)).toEqual([]);
  // The draining worker finished its calls itself: not one was made again by another worker.
  for (const key of drainingCalls) expect(upstream.callsFor(key)).toHaveLength(1);

  // Requests the old API took (new or on a kept-alive connection) and answered after its SIGTERM.
  const finishedAfterSigterm = [...submissions.values()].flat().filter((x) => x.status === 202 && x.startedAt + x.ms > sigtermAt).length;

  // A new API; whatever got no answer is sent again, with the same key or event id.
  const { base: base2 } = await deployment.api('api2');
  const second = new BrokerClient(base2);
  for (const [key, tries] of submissions) if (!tries.some((x) => x.status === 202 || x.status === 200)) record(submissions, key, await second.submitOrder(key));
  for (const [id, tries] of events) if (!tries.some((x) => x.status === 200)) record(events, id, await second.postStripeEvent(id));

  const answers = [...submissions.values()].flat();
  // Nothing the old API answered was an error: requests it had taken finished with 2xx; the later ones found it gone.
  expect(answers.filter((x) => x.status !== 0 && x.status !== 200 && x.status !== 202).map((x) => [x.status, x.body])).toEqual([]);
  const resent = [...submissions.values()].filter((tries) => tries.length > 1).length;
  // SIGTERM landed mid-burst: submissions were still being answered, or found the old API gone.
  expect(finishedAfterSigterm + resent).toBeGreaterThan(0);
  // One job per submission, whatever the number of tries.
  const jobOf = new Map<string, string>();
  for (const [key, tries] of submissions) {
    const ids = new Set(tries.filter((x) => x.status === 200 || x.status === 202).map((x) => x.body.id as string));
    expect([key, ids.size]).toEqual([key, 1]);
    jobOf.set(key, [...ids][0]!);
  }
  const ledger = await balanceJobs(second, upstream, jobOf.values());
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(JOBS);
  for (const key of drainingCalls) expect(ledger.records.get(key)).toMatchObject({ status: 'succeeded', attempts: 1 });

  // Every event acknowledged (by either API) is delivered, under one webhook-id.
  const acknowledged = [...events].filter(([, tries]) => tries.some((x) => x.status === 200)).map(([id]) => id);
  expect(acknowledged).toHaveLength(EVENTS);
  const deliveries = await waitFor(
    () => {
      const byEvent = receiver.deliveriesByEvent();
      return acknowledged.every((id) => byEvent.has(id)) && byEvent;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: 'a trigger for every event' },
  );
  expect([...deliveries].filter(([, ids]) => ids.size !== 1)).toEqual([]);

  console.info(
    `sigterm: both exited 0 within ${exited.ms} ms; ${JOBS} submissions (${finishedAfterSigterm} answered by the old API after its SIGTERM, ${resent} re-sent to the new API), ${held.length} held long-polls answered on shutdown, ` +
      `${drainingCalls.length} calls finished by the draining worker; ${ledger.succeeded} succeeded, ${ledger.failed} failed, ` +
      `${upstream.effects.size} orders made, ${ledger.duplicated.length} duplicated; ${EVENTS} events, ${acknowledged.length} acknowledged, ` +
      `${[...events.values()].filter((t) => t.length > 1).length} re-sent, ${deliveries.size} delivered`,
  );
}, 60_000);
