import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label) {
  return `bench-${label}-${randomBytes(3).toString('hex')}`;
}

export function redis() {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export async function dropPrefix(prefix) {
  const r = redis();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.unlink(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

export function writeConfig(config) {
  const file = join(mkdtempSync(join(tmpdir(), 'broker-bench-')), 'broker.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Starts `apps/<app>/dist/main.js`; resolves when its output contains `readyText`. */
export function startApp(app, env, readyText = app === 'api' ? 'api listening' : 'worker ready') {
  // BENCH_CPU_PROF=<dir>: each app writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, join(ROOT, 'apps', app, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep only the start-up output: a process logging every request would
  // otherwise grow this string (and the search in it) for the whole run, and
  // that work would land on this process, which also runs the load and the stub.
  let out = '';
  let started = false;
  const exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} not ready:\n${out}`)), 20_000);
    const onData = (chunk) => {
      if (started) return;
      out += chunk;
      if (out.includes(readyText)) {
        started = true;
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => reject(new Error(`${app} exited ${code}:\n${out}`)));
  });
  return { child, exited, ready, output: () => out };
}

/** The base URL of an api started with `PORT=0`, from the port its start-up line logs. */
export function apiUrlOf(api) {
  return `http://127.0.0.1:${/"port":(\d+)/.exec(api.output())[1]}`;
}

/** Starts the api on a free port; resolves once it listens, with its base URL. */
export async function startApi(env) {
  const api = startApp('api', { ...env, PORT: '0' });
  await api.ready;
  return { ...api, url: apiUrlOf(api) };
}

/** Resident set size of a process in bytes (Linux). */
export function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** CPU seconds (user + system) a process has used so far (Linux). */
export function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function redisCpuSeconds(r) {
  const info = await r.info('cpu');
  const get = (k) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)[1]);
  return get('used_cpu_user') + get('used_cpu_sys');
}

export async function redisUsedMemory(r) {
  return Number(/used_memory:(\d+)/.exec(await r.info('memory'))[1]);
}
