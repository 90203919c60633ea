import axios from 'axios';
import { Agent } from 'node:http';
import { Queue, Worker } from 'bullmq';
import { brokerSide, countFinished } from '../lib/broker.mjs';
import { dropPrefix, redis, uniquePrefix } from '../lib/env.mjs';
import { interleave, percentile, round2 } from '../lib/stats.mjs';
import { startStub } from '../lib/stub.mjs';
import { TARGETS } from '../lib/targets.mjs';
import { benchConfig } from './submit.mjs';

const CONCURRENCY = 10;

/**
 * Bare BullMQ: a Worker that calls the stub with axios, as a user would write
 * it: one instance created once, a keep-alive agent, the JSON answer as the
 * job's result. Axios because the product's named HTTP stack is axios, so the
 * comparison is like for like: the ratio measures what the broker adds around
 * the call, not a difference between HTTP clients. Bare on purpose: no
 * retries, no rate limiting (the timeout only bounds a stuck call).
 */
function bareWorker(connection, prefix, stubUrl, onDone, { recorded = false } = {}) {
  const http = axios.create({ baseURL: stubUrl, httpAgent: new Agent({ keepAlive: true }), timeout: 10_000 });
  const call = async (job) => (await http.get(`/echo/${job.data.input.id}`)).data;
  // The reference: the least a job record an agent can poll and cancel needs,
  // one write before the call (running) and one after it (the result).
  const recordedCall = async (job) => {
    const key = `${prefix}:record:${job.id}`;
    await connection.hset(key, 'status', 'running');
    const result = await call(job);
    await connection.hset(key, 'status', 'succeeded', 'result', JSON.stringify(result));
    return result;
  };
  const worker = new Worker('bare-drain', recorded ? recordedCall : call, {
    connection,
    prefix,
    concurrency: CONCURRENCY,
    removeOnComplete: { count: 1000 },
  });
  worker.on('completed', (job) => onDone(job));
  return worker;
}

/** Jobs/s draining a backlog: our worker vs a bare BullMQ worker, same stub, same concurrency. */
export async function drain({ quick }) {
  const stub = await startStub();
  const n = quick ? 300 : 3000;
  const rounds = quick ? 1 : 5;
  const conn = redis();
  const sub = redis();
  const prefixes = [];
  /** One round of a bare worker (with `recorded`, the reference that writes a job record) draining its backlog. */
  const bareRound =
    ({ recorded = false } = {}) =>
    async (round) => {
      const count = round < 0 ? n / 5 : n;
      const prefix = uniquePrefix(recorded ? 'drain-recorded' : 'drain-bare');
      prefixes.push(prefix);
      const queue = new Queue('bare-drain', { connection: conn, prefix });
      await queue.addBulk(Array.from({ length: count }, () => ({ name: 'bench.echo', data: { input: { id: 'c_1' } } })));
      let completed = 0;
      let resolveDone;
      const done = new Promise((r) => (resolveDone = r));
      const started = performance.now();
      const worker = bareWorker(conn, prefix, stub.url, () => ++completed === count && resolveDone(), { recorded });
      await done;
      const seconds = (performance.now() - started) / 1000;
      await worker.close();
      await queue.close();
      return count / seconds;
    };
  try {
    const result = await interleave({
      rounds,
      // A short round each first, not counted: V8 warming up is not the steady state.
      warmup: !quick,
      ours: async (round) => {
        const count = round < 0 ? n / 5 : n;
        const prefix = uniquePrefix('drain');
        prefixes.push(prefix);
        const broker = brokerSide(conn, prefix, benchConfig(stub.url, { concurrency: CONCURRENCY }));
        const done = countFinished(sub, prefix, count);
        await broker.enqueue(count);
        const started = performance.now();
        const app = broker.startWorker();
        await done;
        const seconds = (performance.now() - started) / 1000;
        await app.close();
        await broker.queue.close();
        return count / seconds;
      },
      bare: bareRound(),
    });
    // Bare BullMQ with a job record (two HSETs per job, no admission, no
    // audit): a reference, not a target, for what a record alone costs here.
    const reference = await interleave({ rounds, ours: bareRound({ recorded: true }), bare: bareRound() });
    return {
      target: `ratio >= ${TARGETS.drain}`,
      jobs: n,
      concurrency: CONCURRENCY,
      oursJobsPerSec: round2(result.ours),
      bareJobsPerSec: round2(result.bare),
      ratio: result.ratio,
      ratioSpread: result.ratioSpread,
      recordedJobsPerSec: round2(reference.ours),
      recordedRatio: reference.ratio,
      recordedRatioSpread: reference.ratioSpread,
    };
  } finally {
    conn.disconnect();
    sub.disconnect();
    await stub.close();
    for (const p of prefixes) await dropPrefix(p);
  }
}

/**
 * Submit→finished latency at a fixed arrival rate: ours (record + enqueue,
 * worker, record finished, pub/sub) vs bare BullMQ add→completed.
 */
export async function latency({ quick }) {
  const stub = await startStub();
  const rate = quick ? 50 : 200;
  const seconds = quick ? 1 : 5;
  const n = rate * seconds;
  // Five rounds: a latency median moves more with the machine's noise than a throughput does.
  const rounds = quick ? 1 : 5;
  const conn = redis();
  const sub = redis();
  const prefixes = [];
  const samples = { ours: [], bare: [] };

  async function arrive(submitOne) {
    const t0 = performance.now();
    const pending = [];
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      pending.push(submitOne(i));
    }
    await Promise.all(pending);
  }

  try {
    const result = await interleave({
      rounds,
      higherIsBetter: false,
      ours: async () => {
        const prefix = uniquePrefix('latency');
        prefixes.push(prefix);
        const broker = brokerSide(conn, prefix, benchConfig(stub.url, { concurrency: CONCURRENCY }));
        const app = broker.startWorker();
        await app.ready();
        const submittedAt = new Map();
        const lat = [];
        const done = countFinished(sub, prefix, n, (id) => lat.push(performance.now() - submittedAt.get(id)));
        await arrive(async () => {
          const t = performance.now();
          const [id] = await broker.enqueue(1);
          submittedAt.set(id, t);
        });
        await done;
        await app.close();
        await broker.queue.close();
        samples.ours.push(lat);
        return percentile(lat, 50);
      },
      bare: async () => {
        const prefix = uniquePrefix('latency-bare');
        prefixes.push(prefix);
        const queue = new Queue('bare-drain', { connection: conn, prefix });
        const addedAt = new Map();
        const lat = [];
        let resolveDone;
        const done = new Promise((r) => (resolveDone = r));
        const worker = bareWorker(conn, prefix, stub.url, (job) => {
          lat.push(performance.now() - addedAt.get(job.id));
          if (lat.length === n) resolveDone();
        });
        await worker.waitUntilReady();
        await arrive(async () => {
          const t = performance.now();
          const job = await queue.add('bench.echo', { input: { id: 'c_1' } });
          addedAt.set(job.id, t);
        });
        await done;
        await worker.close();
        await queue.close();
        samples.bare.push(lat);
        return percentile(lat, 50);
      },
    });
    const all = (xs) => xs.flat();
    return {
      target: `ours p50 <= ${TARGETS.latencyP50}x bare p50`,
      ratePerSec: rate,
      jobs: n,
      oursP50Ms: round2(percentile(all(samples.ours), 50)),
      oursP99Ms: round2(percentile(all(samples.ours), 99)),
      bareP50Ms: round2(percentile(all(samples.bare), 50)),
      bareP99Ms: round2(percentile(all(samples.bare), 99)),
      p50Ratio: round2(1 / result.ratio),
    };
  } finally {
    conn.disconnect();
    sub.disconnect();
    await stub.close();
    for (const p of prefixes) await dropPrefix(p);
  }
}
