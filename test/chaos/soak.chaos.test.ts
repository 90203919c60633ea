import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { BrokerClient, Deployment, mb, median, rssBytes, TriggerReceiver, type BrokerProcess } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: memory is bounded. With a short retention (RETENTION_S for job
 * records, results, idempotency keys, webhook events and their dedupe claims),
 * a steady load of jobs and webhooks runs for LOAD_MS against one API and one
 * worker on a private Redis. Once the retention window is full, Redis'
 * `used_memory` and its key count stay flat and so does each process' RSS:
 * the second half of the steady period is compared with the first (medians,
 * within the stated tolerances; the first WARMUP_MS are V8 warm-up and the
 * window filling, and are not compared). After the load, a trickle keeps
 * BullMQ pruning its finished jobs by age (it prunes when a job finishes) and
 * the key count falls back to a small constant.
 */
const RETENTION_S = 3;
const LOAD_MS = 45_000;
const WARMUP_MS = 12_000;
const PACE_MS = 100; // per lane: 2 lanes each of jobs and events, about 20 jobs/s and 20 events/s
/** Second-half median against first-half median: RSS may grow 15 % + 8 MB (GC timing), Redis 10 % + 256 KB. */
const RSS_TOLERANCE = { ratio: 1.15, bytes: 8 * 1024 * 1024 };
const REDIS_TOLERANCE = { ratio: 1.1, bytes: 256 * 1024 };
/**
 * Keys left once the load is gone: BullMQ's per-queue bookkeeping, the listing
 * indexes, monitors' state and the trickle's last few seconds (about 55 today;
 * the steady load holds about 380, and it wrote several thousand).
 */
const KEYS_AFTERWARDS = 80;

let redis: PrivateRedis;
let upstream: OrderUpstream;
let receiver: TriggerReceiver;
let deployment: Deployment;
let client: BrokerClient;
let api: BrokerProcess;
let worker: BrokerProcess;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  upstream = await OrderUpstream.start();
  receiver = await TriggerReceiver.start();
  deployment = new Deployment(redis.url, {
    upstreamUrl: upstream.url,
    receiverUrl: receiver.url,
    retention: { jobSeconds: RETENTION_S, idempotencySeconds: RETENTION_S },
    webhookRetentionDays: RETENTION_S / 86_400,
  });
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

interface Sample {
  at: number;
  redisBytes: number;
  /** Of which BullMQ's per-queue event streams (capped by BullMQ at about 10,000 entries each). */
  streamBytes: number;
  keys: number;
  apiRss: number;
  workerRss: number;
}

/** BullMQ's event streams (`<prefix>:<queue>:events`): their memory in bytes and their longest length. */
async function eventStreams(): Promise<{ bytes: number; longest: number }> {
  const admin = redis.client();
  let bytes = 0;
  let longest = 0;
  for (const key of await admin.keys('chaos:*:events')) {
    bytes += (await admin.memory('USAGE', key)) ?? 0;
    longest = Math.max(longest, await admin.xlen(key));
  }
  return { bytes, longest };
}

function halves(samples: Sample[], pick: (s: Sample) => number): { first: number; second: number } {
  const mid = Math.floor(samples.length / 2);
  return { first: median(samples.slice(0, mid).map(pick)), second: median(samples.slice(mid).map(pick)) };
}

it('keeps Redis memory, key count and process RSS flat under a steady load, and drops back to a few keys after it', async () => {
  const baseline = { redisBytes: await redis.usedMemory(), keys: await redis.client().dbsize() };
  const counts = { jobs: 0, jobsAccepted: 0, events: 0, eventsAcknowledged: 0 };
  let pace = PACE_MS;
  let running = true;
  const lane = async (kind: 'job' | 'event') => {
    while (running) {
      if (kind === 'job') {
        const x = await client.submitOrder();
        counts.jobs++;
        if (x.status === 202) counts.jobsAccepted++;
      } else {
        const x = await client.postStripeEvent();
        counts.events++;
        if (x.status === 200) counts.eventsAcknowledged++;
      }
      await delay(pace);
    }
  };
  const load = Promise.all([lane('job'), lane('job'), lane('event'), lane('event')]);

  const startedAt = Date.now();
  const samples: Sample[] = [];
  while (Date.now() - startedAt < LOAD_MS) {
    await delay(1000);
    samples.push({
      at: Date.now() - startedAt,
      redisBytes: await redis.usedMemory(),
      streamBytes: (await eventStreams()).bytes,
      keys: await redis.client().dbsize(),
      apiRss: rssBytes(api.child.pid!),
      workerRss: rssBytes(worker.child.pid!),
    });
  }
  // The trickle: one job and one event per lane-second, so BullMQ keeps pruning by age.
  pace = 1000;
  const trickleFrom = Date.now();
  const settled = await waitFor(
    async () => {
      if (Date.now() - trickleFrom < (RETENTION_S + 2) * 1000) return undefined;
      const keys = await redis.client().dbsize();
      return keys <= KEYS_AFTERWARDS && { keys, redisBytes: await redis.usedMemory() };
    },
    { timeoutMs: 20_000, intervalMs: 500, what: `the key count to fall to ${KEYS_AFTERWARDS} or fewer` },
  ).catch(async (err: Error) => {
    const keys = await redis.client().keys('*');
    throw new Error(`${err.message}; keys left: ${keys.length}, e.g. ${keys.slice(0, 20).join(' ')}`);
  });
  running = false;
  await load;
  // What is left, by kind (ids folded), for the report.
  const left = new Map<string, number>();
  for (const key of await redis.client().keys('*')) {
    const kind = key.replace(/(job|evt|dlv|idem)[_:][^:]*(:.*)?$/, '$1…').replace(/:\d+$/, ':<n>');
    left.set(kind, (left.get(kind) ?? 0) + 1);
  }

  const steady = samples.filter((s) => s.at >= WARMUP_MS);
  // The broker's own data: used_memory less BullMQ's event streams, which grow until BullMQ's cap and then stay.
  const redisMem = halves(steady, (s) => s.redisBytes - s.streamBytes);
  const streams = await eventStreams();
  const keys = halves(steady, (s) => s.keys);
  const apiRss = halves(steady, (s) => s.apiRss);
  const workerRss = halves(steady, (s) => s.workerRss);
  console.info(
    `soak (${LOAD_MS / 1000} s, retention ${RETENTION_S} s): jobs posted ${counts.jobs} (accepted ${counts.jobsAccepted}), ` +
      `events posted ${counts.events} (acknowledged ${counts.eventsAcknowledged}), orders made ${upstream.effects.size}, triggers delivered ${receiver.stub.requests.length}\n` +
      `  redis used_memory: before ${mb(baseline.redisBytes)}, at the end of the load ${mb(samples.at(-1)!.redisBytes)}, after ${mb(settled.redisBytes)}; ` +
      `without BullMQ's event streams: steady 1st half ${mb(redisMem.first)}, 2nd half ${mb(redisMem.second)}; ` +
      `event streams ${mb(streams.bytes)} (longest ${streams.longest} entries)\n` +
      `  keys: before ${baseline.keys}, steady 1st half ${keys.first}, 2nd half ${keys.second}, after ${settled.keys} ` +
      `(${[...left].map(([k, n]) => `${k} ${n}`).join(', ')})\n` +
      `  api RSS: 1st half ${mb(apiRss.first)}, 2nd half ${mb(apiRss.second)}; worker RSS: 1st half ${mb(workerRss.first)}, 2nd half ${mb(workerRss.second)}\n` +
      `  samples: ${samples.map((s) => `${Math.round(s.at / 1000)}s ${mb(s.redisBytes)} (${mb(s.streamBytes)} streams) ${s.keys}k ${mb(s.apiRss)} ${mb(s.workerRss)}`).join(' | ')}`,
  );

  expect(counts.jobsAccepted).toBe(counts.jobs);
  expect(counts.eventsAcknowledged).toBe(counts.events);
  expect(redisMem.second).toBeLessThanOrEqual(redisMem.first * REDIS_TOLERANCE.ratio + REDIS_TOLERANCE.bytes);
  expect(keys.second).toBeLessThanOrEqual(keys.first * 1.2 + 20);
  expect(apiRss.second).toBeLessThanOrEqual(apiRss.first * RSS_TOLERANCE.ratio + RSS_TOLERANCE.bytes);
  expect(workerRss.second).toBeLessThanOrEqual(workerRss.first * RSS_TOLERANCE.ratio + RSS_TOLERANCE.bytes);
  expect(settled.keys).toBeLessThanOrEqual(KEYS_AFTERWARDS);
  // BullMQ trims each event stream to about 10,000 entries (MAXLEN ~): bounded, whatever the traffic.
  expect(streams.longest).toBeLessThanOrEqual(10_500);
}, 90_000);
