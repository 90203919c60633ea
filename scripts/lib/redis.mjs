// Finds or starts the Redis that `pnpm start` and `pnpm test` run against (docs/getting-started.md#install).
// Plain Node, no dependencies: it must work before anything is installed or built.

import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const HOST = '127.0.0.1';
const PORT = 6379;
const LOCAL_URL = `redis://${HOST}:${PORT}`;
const PING_TIMEOUT_MS = 500;
const START_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} RedisHandle
 * @property {string} url        what to put in REDIS_URL
 * @property {boolean} started   true when this process spawned redis-server
 * @property {() => Promise<void>} stop  stops a Redis we started; a no-op otherwise
 */

/**
 * REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379; else a
 * redis-server from PATH with AOF on and data under `<cwd>/.data/redis`.
 * Exits the process with 1 and a message naming both fixes when none of those works.
 *
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv }} options
 * @returns {Promise<RedisHandle>}
 */
export async function ensureRedis({ cwd, env = process.env }) {
  if (env.REDIS_URL) return { url: env.REDIS_URL, started: false, stop: async () => {} };

  const reply = await ping(HOST, PORT);
  if (reply === '+PONG') return { url: LOCAL_URL, started: false, stop: async () => {} };
  if (reply !== undefined) {
    // Something speaks RESP but refuses PING (e.g. -NOAUTH): starting our own would
    // only fail to bind, so say what is there instead.
    fail(`something on ${HOST}:${PORT} answered PING with "${reply}". ` + `Set REDIS_URL (e.g. redis://:password@${HOST}:${PORT}) to use it.`);
  }

  const binary = findOnPath('redis-server', env.PATH);
  if (!binary) {
    fail(
      `no Redis answers on ${HOST}:${PORT} and redis-server is not on PATH.\n` +
        'Either install Redis (e.g. apt-get install redis-server / brew install redis) ' +
        'or run `docker compose up -d redis`, or set REDIS_URL to an existing Redis.',
    );
  }
  return startRedis(binary, join(cwd, '.data', 'redis'));
}

/**
 * Sends one inline RESP PING and returns the first reply line, or undefined when
 * nothing answers within the timeout (refused, filtered, or silent).
 *
 * @returns {Promise<string | undefined>}
 */
export function ping(host = HOST, port = PORT, timeoutMs = PING_TIMEOUT_MS) {
  return new Promise((resolve) => {
    let buffer = '';
    const socket = connect({ host, port });
    const finish = (/** @type {string | undefined} */ value) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.once('error', () => finish(undefined));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n');
      if (end !== -1) finish(buffer.slice(0, end));
    });
    socket.once('end', () => finish(buffer === '' ? undefined : buffer));
  });
}

/**
 * @param {string} binary
 * @param {string} dir
 * @returns {Promise<RedisHandle>}
 */
async function startRedis(binary, dir) {
  mkdirSync(dir, { recursive: true });
  const args = [
    '--port',
    String(PORT),
    '--bind',
    HOST,
    // docs/operations.md#redis-settings and BullMQ's production guide: AOF so queued jobs survive a crash,
    // noeviction so Redis refuses writes rather than silently dropping job keys.
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--dir',
    dir,
    '--maxmemory-policy',
    'noeviction',
  ];
  process.stderr.write(`[redis] starting ${binary} on ${HOST}:${PORT} (data in ${dir})\n`);

  // Own process group: a terminal Ctrl-C must not kill Redis under the apps that are
  // still draining into it; stop() shuts it down last.
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = tail(child);
  /** @type {Error | undefined} */
  let spawnError;
  /** @type {string | undefined} */
  let exitReason;
  child.once('error', (error) => {
    spawnError = error;
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = signal ? `signal ${signal}` : `code ${code}`;
      resolve(undefined);
    });
  });

  // Backstop for an exit that skips stop() (uncaught error, process.exit elsewhere).
  const killOnExit = () => {
    if (exitReason === undefined) child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (exitReason !== undefined) return;
    // SIGTERM makes Redis flush the AOF and exit cleanly; SIGKILL only if it hangs.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) fail(`could not run ${binary}: ${spawnError.message}`);
    if (exitReason !== undefined) fail(`redis-server exited (${exitReason}) while starting:\n${output()}`);
    if ((await ping(HOST, PORT)) === '+PONG') return { url: LOCAL_URL, started: true, stop };
    await delay(POLL_INTERVAL_MS);
  }
  child.kill('SIGKILL');
  return fail(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

/**
 * Keeps the last few KiB of a child's output, shown only if it fails to start.
 * @param {import('node:child_process').ChildProcess} child
 */
function tail(child) {
  const limit = 8 * 1024;
  let text = '';
  const keep = (/** @type {Buffer} */ chunk) => {
    text = (text + chunk.toString('utf8')).slice(-limit);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text.trim();
}

/**
 * @param {string} name
 * @param {string | undefined} pathVar
 * @returns {string | undefined}
 */
function findOnPath(name, pathVar = '') {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`\n[redis] ${message}\n\n`);
  process.exit(1);
}
