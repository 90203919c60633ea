import { setTimeout as delay } from 'node:timers/promises';
import { maxInSlidingWindow } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';
import { balanceJobs, ledgerFaults, NO_FAULTS } from './accounting';
import { BrokerClient, Deployment } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: limits hold across processes, and an upstream outage fails no
 * job. The upstream answers 503 for DOWN_MS while jobs keep coming, across two
 * worker processes: the breaker opens after THRESHOLD failures, jobs wait
 * (deferred, no attempt spent) instead of burning their retries, one probe
 * goes out per recovery period, and once the upstream is back the backlog
 * drains at the configured rate — never more than MAX calls in any sliding
 * window of WINDOW_MS at the upstream — and every job succeeds.
 *
 * Scaled down to keep CI short: a 10 s outage and a 2 s recovery period stand
 * for the minute-long outage and 30 s default of production; the mechanism is
 * the same at any scale.
 */
const DOWN_MS = 10_000;
const JOBS = 30;
const MAX = 5;
const WINDOW_MS = 1000;
const THRESHOLD = 3;
const RECOVERY_MS = 2000;
const ATTEMPTS = 8;

let redis: PrivateRedis;
let upstream: OrderUpstream;
let deployment: Deployment;
let client: BrokerClient;
let down = true;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  upstream = await OrderUpstream.start({ down: () => (down ? { status: 503, body: { error: 'maintenance' } } : undefined) });
  deployment = new Deployment(redis.url, {
    upstreamUrl: upstream.url,
    shop: {
      rateLimit: { max: MAX, durationMs: WINDOW_MS },
      circuitBreaker: { failureThreshold: THRESHOLD, recoveryTimeoutMs: RECOVERY_MS },
      retry: { attempts: ATTEMPTS, baseDelayMs: 200, maxDelayMs: 1000 },
      timeoutMs: 2000,
    },
  });
  const [{ base }] = await Promise.all([deployment.api(), deployment.worker('A'), deployment.worker('B')]);
  client = new BrokerClient(base);
}, 30_000);

afterAll(async () => {
  await deployment?.stopAll();
  await upstream?.close();
  await redis?.stop();
});

it('opens the breaker, fails no job, and drains the backlog at the configured rate once the upstream is back', async () => {
  const downSince = Date.now();
  const accepted: string[] = [];
  const states = new Set<string>();
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const x = await client.integrations();
      if (x.status === 200) states.add(x.body.integrations[0].circuitBreaker.state);
      await delay(100);
    }
  })();
  for (let i = 0; i < JOBS; i++) {
    const x = await client.submitOrder(`outage-${i}`);
    expect(x.status).toBe(202);
    accepted.push(x.body.id);
    await delay(100);
  }

  await waitFor(() => Date.now() - downSince >= DOWN_MS && states.has('open'), { timeoutMs: DOWN_MS + 5000, what: 'the outage to run its course' });
  down = false;
  const upAt = Date.now();
  const ledger = await balanceJobs(client, upstream, accepted, { timeoutMs: 30_000 });
  watching = false;
  await watch;

  expect(ledgerFaults(ledger)).toEqual(NO_FAULTS);
  expect(ledger.succeeded).toBe(JOBS);
  expect(ledger.failed).toBe(0);
  expect(states).toContain('open');
  expect(states).toContain('closed');
  // Waiting behind the open breaker spent no attempts: no job came near its limit.
  expect(Math.max(...[...ledger.records.values()].map((j) => j.attempts))).toBeLessThan(ATTEMPTS);

  const refused = upstream.calls.filter((c) => c.outcome === 'refused');
  // While down: the failures that opened it, calls already on their way (2 workers x 4), and one probe per recovery period.
  expect(refused.length).toBeLessThanOrEqual(THRESHOLD + 8 + Math.ceil(DOWN_MS / RECOVERY_MS) + 1);
  // The limit held across both workers, outage and drain alike.
  const busiest = maxInSlidingWindow(
    upstream.calls.map((c) => c.at),
    WINDOW_MS,
  );
  expect(busiest).toBeLessThanOrEqual(MAX);
  const made = upstream.calls.filter((c) => c.outcome === 'created');
  const lastAt = Math.max(...made.map((c) => c.at));
  // The backlog drains at the configured rate: the half-open wait, then JOBS/MAX windows (plus slack for a busy machine).
  expect(lastAt - upAt).toBeLessThan(RECOVERY_MS + (JOBS / MAX) * WINDOW_MS + 4000);
  console.info(
    `upstream outage (${upAt - downSince} ms): ${JOBS} jobs accepted, ${ledger.succeeded} succeeded, ${ledger.failed} failed; ` +
      `${refused.length} calls while down, breaker states seen ${[...states].join('/')}; backlog drained ${lastAt - upAt} ms after recovery, ` +
      `busiest ${WINDOW_MS} ms window ${busiest} calls (limit ${MAX}); max attempts ${Math.max(...[...ledger.records.values()].map((j) => j.attempts))}`,
  );
}, 60_000);
