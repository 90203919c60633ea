import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment, type Exchange } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: a job the API answered 202 exists and finishes, even when the
 * API process dies the next moment. Submissions flow while the API is killed
 * with SIGKILL; the client sends what got no answer again, with the same
 * Idempotency-Key, to a new API process, as an agent would. Every 202 job
 * finishes with its order made once, and every key ends as one job.
 */
let redis: PrivateRedis;
let upstream: OrderUpstream;
let deployment: Deployment;

beforeAll(async () => {
  redis = await PrivateRedis.start({ aof: true });
  upstream = await OrderUpstream.start();
  deployment = new Deployment(redis.url, { upstreamUrl: upstream.url });
  await deployment.worker('W');
}, 30_000);

afterAll(async () => {
  await deployment?.stopAll();
  await upstream?.close();
  await redis?.stop();
});

it('finishes every job answered 202 by an API killed mid-load; a retried key is one job', async () => {
  const first = await deployment.api('api-1');
  const client = new BrokerClient(first.base);
  const sent: (Exchange & { key: string })[] = [];
  const jobsByKey = new Map<string, Set<string>>();
  let running = true;
  let n = 0;
  const loop = async () => {
    while (running) {
      const key = `kill-api-${n++}`;
      const x = await client.submitOrder(key, 3000);
      sent.push({ key, ...x });
      await delay(5);
    }
  };
  const loops = Promise.all([loop(), loop(), loop(), loop()]);
  await waitFor(() => sent.filter((x) => x.status === 202).length >= 60, { timeoutMs: 20_000, what: 'traffic before the kill' });
  first.proc.child.kill('SIGKILL');
  const killedAt = Date.now();
  expect(await first.proc.exited).toBe('SIGKILL');
  running = false;
  await loops;

  // A new API; the agent resends what got no answer (or a 503) with the same key.
  const second = await deployment.api('api-2');
  client.base = second.base;
  const unanswered = sent.filter((x) => x.status !== 202 && x.status !== 200);
  for (const x of unanswered) {
    const again = await client.submitOrder(x.key);
    expect([200, 202]).toContain(again.status);
    sent.push({ key: x.key, ...again });
  }
  for (const x of sent.filter((s) => s.status === 200 || s.status === 202)) {
    const ids = jobsByKey.get(x.key) ?? new Set<string>();
    ids.add(x.body.id as string);
    jobsByKey.set(x.key, ids);
  }
  // One job per key, whatever answered it.
  expect([...jobsByKey].filter(([, ids]) => ids.size !== 1)).toEqual([]);
  const accepted = [...jobsByKey.values()].map((ids) => [...ids][0]!);
  const ledger = await balanceJobs(client, upstream, accepted, { timeoutMs: 40_000 });
  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(accepted.length);
  const before = sent.filter((x) => x.status === 202 && x.startedAt + x.ms <= killedAt).length;
  console.info(
    `api kill: ${before} jobs answered 202 before the SIGKILL, ${unanswered.length} requests cut off and resent with their key to a new API; ` +
      `${accepted.length} jobs, ${ledger.succeeded} succeeded, ${upstream.effects.size} orders made, ${ledger.duplicated.length} duplicated`,
  );
}, 90_000);
