import { brokerSide, countFinished } from '../lib/broker.mjs';
import { cpuSecondsOf, dropPrefix, redis, redisCpuSeconds, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { round2 } from '../lib/stats.mjs';
import { startStub } from '../lib/stub.mjs';
import { benchConfig } from './submit.mjs';

/**
 * Drain throughput with 1, 2 and 4 worker processes on a no-latency stub and
 * no rate limit, with the CPU each party used, to show where the bottleneck
 * moves (the worker processes, Redis, or the stub and the machine itself).
 */
export async function scale({ quick }) {
  const n = quick ? 200 : 4000;
  const stub = await startStub();
  const conn = redis();
  const sub = redis();
  const rows = [];
  try {
    for (const processes of quick ? [1, 2] : [1, 2, 4]) {
      const prefix = uniquePrefix('scale');
      const rawConfig = benchConfig(stub.url, { concurrency: 10 });
      const env = { BROKER_CONFIG: writeConfig(rawConfig), BROKER_REDIS_PREFIX: prefix };
      const workers = Array.from({ length: processes }, () => startApp('worker', env));
      await Promise.all(workers.map((w) => w.ready));
      const broker = brokerSide(conn, prefix, rawConfig);
      // Enqueue while the workers are paused on an empty queue, then time the drain.
      const done = countFinished(sub, prefix, n);
      const cpu0 = workers.map((w) => cpuSecondsOf(w.child.pid));
      const redis0 = await redisCpuSeconds(conn);
      const t0 = performance.now();
      await broker.enqueue(n);
      await done;
      const seconds = (performance.now() - t0) / 1000;
      const workerCpu = workers.reduce((sum, w, i) => sum + cpuSecondsOf(w.child.pid) - cpu0[i], 0);
      const redisCpu = (await redisCpuSeconds(conn)) - redis0;
      rows.push({
        workerProcesses: processes,
        jobsPerSec: round2(n / seconds),
        workerCpuPercentOfOneCore: round2((workerCpu / seconds) * 100),
        redisCpuPercentOfOneCore: round2((redisCpu / seconds) * 100),
      });
      await broker.queue.close();
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      await dropPrefix(prefix);
    }
  } finally {
    conn.disconnect();
    sub.disconnect();
    await stub.close();
  }
  return { jobs: n, rows, note: 'the machine has 2 cores: beyond 2 processes the workers, Redis, the stub and this process share them' };
}
