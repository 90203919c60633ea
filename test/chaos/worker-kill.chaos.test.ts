import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, type BrokerProcess } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: no write is applied twice upstream, even when a worker dies
 * mid-call. Under a steady flow of writes through the API — orders (an
 * idempotent tool) and notes (no idempotency key; the job id rides as a
 * reference) in turn — two workers in turn are killed with SIGKILL while their
 * calls are at the upstream, whose effect is applied but whose answer is held.
 * Stalled-job detection (lock 1 s, checked every 0.5 s) hands their jobs to a
 * surviving worker within seconds: an order's re-run carries the job's own
 * Idempotency-Key; a note's re-run finds the record still running, looks the
 * note up by its reference and finds it, and sends nothing. Each effect is
 * applied once and every job succeeds.
 */
/** At least this many jobs are submitted; more (up to MAX_JOBS) while a kill still waits for its worker to have an order and a note out. */
const JOBS = 80;
const MAX_JOBS = 600;
const BURST = 10;
const SUBMIT_EVERY_MS = 250;
let redis: PrivateRedis;
let upstream: OrderUpstream;
let deployment: Deployment;
let client: BrokerClient;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  // 400 ms per answer: with 4 jobs at once per worker, a kill always finds calls out.
  upstream = await OrderUpstream.start({ answerDelayMs: 400 });
  deployment = new Deployment(redis.url, { upstreamUrl: upstream.url });
  const [{ base }] = await Promise.all([deployment.api(), deployment.worker('B')]);
  client = new BrokerClient(base);
}, 30_000);

afterAll(async () => {
  await deployment?.stopAll();
  await upstream?.close();
  await redis?.stop();
});

interface Kill {
  orders: string[];
  notes: string[];
  at: number;
}

/** Kills `worker` once it has an order and a note out at the upstream; returns those calls' keys and when it died. */
async function killMidCall(worker: BrokerProcess): Promise<Kill> {
  const calls = await waitFor(
    () => {
      const out = upstream.inFlight(worker.label);
      return out.some((c) => c.kind === 'order') && out.some((c) => c.kind === 'note') && out;
    },
    { timeoutMs: 15_000, intervalMs: 5, what: `an order and a note of worker ${worker.label} at the upstream` },
  );
  worker.child.kill('SIGKILL');
  const at = Date.now();
  expect(await worker.exited).toBe('SIGKILL');
  return { orders: calls.filter((c) => c.kind === 'order').map((c) => c.key), notes: calls.filter((c) => c.kind === 'note').map((c) => c.key), at };
}

it('re-runs the jobs of workers killed mid-call: orders with the same key, notes looked up first; each effect once, every job succeeds', async () => {
  const doomed = await deployment.worker('A');
  const accepted: string[] = [];
  const answers: number[] = [];
  let killed = false;
  const flow = (async () => {
    // On a loaded machine the other worker may win most jobs for a while: the flow lasts until both kills happened.
    // Bursts of BURST jobs (orders and notes in turn), more than one worker takes at once (4): a
    // joining worker gets both kinds however fast or slow the machine submits.
    for (let i = 0; i < MAX_JOBS && (i < JOBS || !killed); i += BURST) {
      const burst = Array.from({ length: BURST }, (_, k) => (k % 2 === 0 ? client.submitOrder(`kill-${i + k}`) : client.submitNote(`kill-${i + k}`)));
      for (const x of await Promise.all(burst)) {
        answers.push(x.status);
        if (x.status === 202) accepted.push(x.body.id);
      }
      await delay(SUBMIT_EVERY_MS);
    }
  })();

  let first: Kill;
  try {
    first = await killMidCall(doomed);
  } catch (err) {
    killed = true;
    await flow;
    throw err;
  }
  // A replacement joins the flow, and dies mid-call in its turn.
  let second: Kill;
  try {
    second = await killMidCall(await deployment.worker('C'));
  } finally {
    killed = true;
    await flow;
  }

  expect(answers.filter((s) => s !== 202)).toEqual([]);
  const ledger = await balanceJobs(client, upstream, accepted, { timeoutMs: 40_000 });
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(accepted.length);
  expect(accepted.length).toBeGreaterThanOrEqual(JOBS);

  // Every call carried the Idempotency-Key of its job.
  const ids = new Set(accepted);
  expect(upstream.calls.filter((c) => !ids.has(c.key))).toEqual([]);
  let slowestTakeover = 0;
  // A note's lookup waits the integration's timeoutMs (5 s in the chaos config) after the re-run's claim.
  const tookOver = (at: number, kill: Kill, worker: string, lookupWaitMs = 0) => {
    expect(['B', 'C']).toContain(worker);
    expect(at - kill.at).toBeLessThan(5000 + lookupWaitMs);
    slowestTakeover = Math.max(slowestTakeover, at - kill.at);
  };
  for (const kill of [first, second]) {
    for (const key of kill.orders) {
      const calls = upstream.callsFor(key);
      // The dead worker's call, then the re-run by a live worker, within seconds of the kill.
      expect(calls.length).toBeGreaterThanOrEqual(2);
      const rerun = calls.find((c) => c.at > kill.at)!;
      tookOver(rerun.at, kill, rerun.worker);
      expect(upstream.effects.get(key)).toBe(1);
      expect(ledger.records.get(key)?.status).toBe('succeeded');
    }
    for (const key of kill.notes) {
      // The dead worker's POST only: the re-run looked the note up, found it, and sent nothing.
      expect(upstream.callsFor(key)).toHaveLength(1);
      const lookup = upstream.lookups.find((l) => l.key === key && l.at > kill.at)!;
      expect(lookup).toBeDefined();
      tookOver(lookup.at, kill, lookup.worker, 5000);
      expect(upstream.effects.get(key)).toBe(1);
      expect(ledger.records.get(key)?.status).toBe('succeeded');
    }
  }
  const notes = accepted.filter((id) => upstream.callsFor(id)[0]?.kind === 'note');
  const cut = { orders: first.orders.length + second.orders.length, notes: first.notes.length + second.notes.length };
  console.info(
    `worker kill: ${accepted.length} jobs accepted (${accepted.length - notes.length} orders with a key, ${notes.length} notes without), ${ledger.succeeded} succeeded, ${ledger.failed} failed; ` +
      `${cut.orders} order and ${cut.notes} note calls cut off by 2 SIGKILLs, taken over by a live worker at most ${slowestTakeover} ms after the kill ` +
      `(orders re-sent with their key, notes looked up: ${upstream.lookups.length} lookups); ` +
      `${upstream.calls.length} upstream writes, ${upstream.effects.size} effects, ${ledger.duplicated.length} duplicated`,
  );
}, 120_000);
