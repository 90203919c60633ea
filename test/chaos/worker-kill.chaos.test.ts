import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, type BrokerProcess } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: nothing is duplicated upstream for idempotent tools, even when a
 * worker dies mid-call. Under a steady flow of writes through the API, two
 * workers in turn are killed with SIGKILL while their calls are at the
 * upstream, whose effect is applied but whose answer is held. Stalled-job
 * detection (lock 1 s, checked every 0.5 s) hands their jobs to a surviving
 * worker within seconds; every re-run carries the job's own Idempotency-Key,
 * so the upstream applies each order once and every job succeeds.
 */
const JOBS = 80;
const SUBMIT_EVERY_MS = 50;
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

/** Kills `worker` once it has `n` calls out at the upstream; returns those calls' keys and when it died. */
async function killMidCall(worker: BrokerProcess, n: number): Promise<{ keys: string[]; at: number }> {
  const calls = await waitFor(() => upstream.inFlight(worker.label).length >= n && upstream.inFlight(worker.label), {
    timeoutMs: 15_000,
    intervalMs: 5,
    what: `${n} calls of worker ${worker.label} at the upstream`,
  });
  worker.child.kill('SIGKILL');
  const at = Date.now();
  expect(await worker.exited).toBe('SIGKILL');
  return { keys: calls.map((c) => c.key), at };
}

it('re-runs the jobs of workers killed mid-call with the same key; each order is made once and every job succeeds', async () => {
  const doomed = await deployment.worker('A');
  const accepted: string[] = [];
  const answers: number[] = [];
  const flow = (async () => {
    for (let i = 0; i < JOBS; i++) {
      const x = await client.submitOrder(`kill-${i}`);
      answers.push(x.status);
      if (x.status === 202) accepted.push(x.body.id);
      await delay(SUBMIT_EVERY_MS);
    }
  })();

  const first = await killMidCall(doomed, 2);
  // A replacement joins the flow, and dies mid-call in its turn.
  const second = await killMidCall(await deployment.worker('C'), 2);
  await flow;

  expect(answers.filter((s) => s !== 202)).toEqual([]);
  const ledger = await balanceJobs(client, upstream, accepted, { timeoutMs: 40_000 });
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(JOBS);

  // Every call carried the Idempotency-Key of its job.
  const ids = new Set(accepted);
  expect(upstream.calls.filter((c) => !ids.has(c.key))).toEqual([]);
  let slowestTakeover = 0;
  for (const kill of [first, second]) {
    for (const key of kill.keys) {
      const calls = upstream.callsFor(key);
      // The dead worker's call, then the re-run by a live worker, within seconds of the kill.
      expect(calls.length).toBeGreaterThanOrEqual(2);
      const rerun = calls.find((c) => c.at > kill.at)!;
      expect(['B', 'C']).toContain(rerun.worker);
      expect(rerun.at - kill.at).toBeLessThan(5000);
      slowestTakeover = Math.max(slowestTakeover, rerun.at - kill.at);
      expect(upstream.effects.get(key)).toBe(1);
      expect(ledger.records.get(key)?.status).toBe('succeeded');
    }
  }
  const orphans = first.keys.length + second.keys.length;
  console.info(
    `worker kill: ${JOBS} jobs accepted, ${ledger.succeeded} succeeded, ${ledger.failed} failed; ${orphans} calls cut off by 2 SIGKILLs, ` +
      `re-sent by a live worker at most ${slowestTakeover} ms after the kill; ` +
      `${upstream.calls.length} upstream calls, ${upstream.effects.size} orders made, ${ledger.duplicated.length} duplicated`,
  );
}, 60_000);
