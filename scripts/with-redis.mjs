#!/usr/bin/env node
// Usage: node scripts/with-redis.mjs <command> [args...]
// Runs one command with REDIS_URL pointing at a Redis found or started by ensureRedis
// (what `pnpm test` and `pnpm bench` use), exits with the command's code, and stops a
// Redis it started. Binaries in node_modules/.bin (jest, ...) resolve without `pnpm exec`.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRedis } from './lib/redis.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [command, ...args] = process.argv.slice(2);

if (!command) {
  process.stderr.write('usage: node scripts/with-redis.mjs <command> [args...]\n');
  process.exit(2);
}

const redis = await ensureRedis({ cwd: root });

const env = {
  ...process.env,
  REDIS_URL: redis.url,
  PATH: [join(root, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(delimiter),
};

// shell: false so arguments reach the command verbatim; Node looks the command up in
// env.PATH, which is why node_modules/.bin is prepended there.
const child = spawn(command, args, { stdio: 'inherit', env, shell: false });

// Ctrl-C reaches the child directly (same process group); the wrapper only has to
// outlive it so Redis is stopped afterwards. A SIGTERM aimed at the wrapper alone (CI
// cancelling a step) is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

const code = await new Promise((resolve) => {
  child.once('error', (error) => {
    process.stderr.write(`with-redis: cannot run ${command}: ${error.message}\n`);
    resolve(127);
  });
  child.once('exit', (exitCode, signal) => {
    // Shell convention: a command killed by a signal exits 128 + signal number.
    resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
  });
});

await redis.stop();
process.exit(code);
