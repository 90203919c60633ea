import { brokerSide, countFinished } from '../lib/broker.mjs';
import { dropPrefix, redis, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { round2 } from '../lib/stats.mjs';
import { startStub } from '../lib/stub.mjs';
import { TARGETS } from '../lib/targets.mjs';
import { benchConfig } from './submit.mjs';

/** The largest number of arrivals inside any window [t, t + windowMs). */
export function maxInWindow(timestamps, windowMs) {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let max = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

/**
 * How many windows [t, t + windowMs), t an arrival, hold more than `limit`
 * arrivals: 0 exactly when the busiest window is within the limit.
 */
export function windowsOver(timestamps, windowMs, limit) {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let over = 0;
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end] - sorted[start] < windowMs) end++;
    if (end - start > limit) over++;
  }
  return over;
}

/**
 * Limiter accuracy: a backlog drained by two worker processes under a sliding
 * window limit. The stub measures: no 1 s window may hold more calls than the
 * limit, and the steady rate should be close to it. Utilisation is the rate
 * after the first window's burst, divided by the limit.
 */
export async function limiter({ quick }) {
  const max = quick ? 20 : 100;
  const n = quick ? 80 : 3000;
  const stub = await startStub({ record: true });
  const prefix = uniquePrefix('limiter');
  const rawConfig = benchConfig(stub.url, { rateLimit: { max, durationMs: 1000 }, concurrency: 20 });
  const env = { BROKER_CONFIG: writeConfig(rawConfig), BROKER_REDIS_PREFIX: prefix };
  const conn = redis();
  const sub = redis();
  const workers = [startApp('worker', env), startApp('worker', env)];
  try {
    await Promise.all(workers.map((w) => w.ready));
    const broker = brokerSide(conn, prefix, rawConfig);
    const done = countFinished(sub, prefix, n);
    await broker.enqueue(n);
    await done;
    await broker.queue.close();
    const a = stub.arrivals;
    const span = (a[a.length - 1] - a[0]) / 1000;
    return {
      target: `windows over the limit = ${TARGETS.limiterWindowsOver}; utilisation >= ${TARGETS.limiterUtilisation}`,
      limitPerSec: max,
      jobs: n,
      workerProcesses: 2,
      busiestWindow: maxInWindow(a, 1000),
      windowsOver: windowsOver(a, 1000, max),
      utilisation: round2((n - max) / span / max),
      seconds: round2(span),
    };
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    conn.disconnect();
    sub.disconnect();
    await stub.close();
    await dropPrefix(prefix);
  }
}
