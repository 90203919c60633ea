import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from './env.mjs';
import { interleave, round2 } from './stats.mjs';

const BARE = join(dirname(fileURLToPath(import.meta.url)), '../bare');

/** Starts a baseline server from bench/src/bare; resolves with its URL once it listens. */
export function startBare(file, env) {
  // BENCH_CPU_PROF=<dir>: the baseline writes a CPU profile there too, to compare with ours.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, join(BARE, file)], {
    env: { PATH: process.env.PATH, REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      const m = /bare listening (\d+)/.exec(String(d));
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
  });
}

/** One autocannon run; any non-2xx, error or timeout fails the benchmark rather than flattering it. */
export async function load(options) {
  const result = await autocannon(options);
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} failed requests against ${options.url}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Requests/s of ours and the baseline at 10 and 100 connections, in
 * alternating rounds. `run(url, connections, duration, side)` makes one run.
 */
export async function compareHttp({ quick, ours, bare, run }) {
  const duration = quick ? 1 : 4;
  const rounds = quick ? 1 : 5;
  const out = {};
  for (const connections of [10, 100]) {
    const samples = { ours: [], bare: [] };
    // Round -1 (before the first connection count only): a short run each, not
    // counted; a server's steady state is what compares, not V8 warming up.
    const side = (name, url) => async (round) => {
      const r = await run(url, connections, round < 0 ? 2 : duration, name);
      if (round >= 0) samples[name].push(r);
      return r.rps;
    };
    const result = await interleave({ rounds, warmup: !quick && connections === 10, ours: side('ours', ours), bare: side('bare', bare) });
    out[`c${connections}`] = {
      connections,
      oursRps: round2(result.ours),
      bareRps: round2(result.bare),
      ratio: result.ratio,
      ratioSpread: result.ratioSpread,
      oursP50Ms: median(samples.ours.map((s) => s.p50)),
      oursP99Ms: median(samples.ours.map((s) => s.p99)),
      bareP50Ms: median(samples.bare.map((s) => s.p50)),
      bareP99Ms: median(samples.bare.map((s) => s.p99)),
    };
  }
  return out;
}
