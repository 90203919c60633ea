#!/usr/bin/env node
// `pnpm start` (after `pnpm build`): the whole broker on the example config, with the
// local sandbox API and a Redis found or started, so a new user can submit a job within
// a minute and no accounts (docs/getting-started.md#what-pnpm-start-runs).
//
// Secrets the config names but nobody set are generated once and kept in
// .data/dev.env, so keys stay the same across restarts and `source .data/dev.env`
// gives a shell the agent key for curl.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { startChild } from './lib/children.mjs';
import { loadEnvFile, readEnvFile, writeExportFile } from './lib/env-file.mjs';
import { ensureRedis } from './lib/redis.mjs';
import { generateEncryptionKey, generateSecret, secretNames } from './lib/secrets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// BROKER_CONFIG picks another config (e.g. the example plus guardrails); default: the example.
const configPath = process.env.BROKER_CONFIG ? resolve(process.env.BROKER_CONFIG) : join(root, 'broker.config.example.json');
const devEnvPath = join(root, '.data', 'dev.env');

/** Matches compose's stop_grace_period: long enough for the worker to drain. */
const DRAIN_GRACE_MS = 30_000;
const SANDBOX_GRACE_MS = 5_000;
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 200;

const CHILDREN = /** @type {const} */ ([
  { name: 'sandbox', script: 'apps/sandbox/dist/main.js' },
  { name: 'api', script: 'apps/api/dist/main.js' },
  { name: 'worker', script: 'apps/worker/dist/main.js' },
]);

const log = (/** @type {string} */ message) => process.stdout.write(`[start] ${message}\n`);
const die = (/** @type {string} */ message) => {
  process.stderr.write(`[start] ${message}\n`);
  process.exit(1);
};

// .env first: it may set REDIS_URL, PORT or real secrets. It never overrides the shell.
const fromDotenv = loadEnvFile(join(root, '.env'), process.env);
if (fromDotenv.length > 0) log(`loaded ${fromDotenv.join(', ')} from .env`);

const missing = CHILDREN.filter((c) => !existsSync(join(root, c.script)));
if (missing.length > 0) {
  die(`not built: ${missing.map((c) => c.script).join(', ')}. Run \`pnpm build\` (\`pnpm start\` does it for you).`);
}

const config = readConfig(configPath);
const port = readPort(process.env.PORT);
const secrets = devSecrets(config);

let shuttingDown = false;
/** @type {import('./lib/children.mjs').ManagedChild[]} */
const running = [];
/** @type {(() => Promise<void>) | undefined} */
let stopRedis;

process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));

const redis = await ensureRedis({ cwd: root });
// eslint-disable-next-line prefer-const -- a signal during ensureRedis() runs shutdown(), which reads stopRedis: a const here would throw in its TDZ
stopRedis = redis.stop;
log(`Redis at ${redis.url}${redis.started ? ' (started here; stopped on exit)' : ''}`);

const baseEnv = {
  ...process.env,
  ...secrets,
  BROKER_CONFIG: configPath,
  REDIS_URL: redis.url,
  LOG_LEVEL: process.env.LOG_LEVEL || 'info',
};
// PORT is the API's (docs/configuration.md#environment); keeping it from the others avoids two processes
// racing for the same port if either ever reads it.
const { PORT: _ignored, ...envWithoutPort } = baseEnv;
const width = Math.max(...CHILDREN.map((c) => c.name.length));

for (const { name, script } of CHILDREN) {
  if (shuttingDown) break;
  // Local only: the api listens on loopback, not on every interface (`HOST` in docs/configuration.md#environment).
  const env = name === 'api' ? { ...envWithoutPort, PORT: String(port), HOST: '127.0.0.1' } : envWithoutPort;
  const child = startChild({ name, script: join(root, script), env, cwd: root, width });
  running.push(child);
  void child.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    log(`${name} exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); stopping the rest`);
    void shutdown(1);
  });
}

const apiUrl = `http://127.0.0.1:${port}`;
/** @type {string | undefined} */
const sandboxUrl = config?.integrations?.demo?.baseUrl;
// The banner's curl goes through api -> worker -> sandbox, so both must be up first.
const probes = [`${apiUrl}/healthz`, ...(sandboxUrl ? [new URL('/healthz', sandboxUrl).href] : [])];
const notReady = await waitForHealthy(probes);
if (notReady.length === 0) {
  printBanner();
} else if (!shuttingDown) {
  log(`no answer from ${notReady.join(', ')} within ${READY_TIMEOUT_MS / 1000} s; stopping`);
  await shutdown(1);
}

/**
 * Stops everything once, in dependency order: the api and worker first (the worker
 * may still be calling the sandbox and both use Redis), then the sandbox, then a Redis
 * started here. A second Ctrl-C skips the wait.
 *
 * @param {number} code
 * @param {string} [signal]
 */
async function shutdown(code, signal) {
  if (shuttingDown) {
    if (signal) {
      log('second signal: killing children now');
      for (const child of running) child.process.kill('SIGKILL');
      process.exit(1);
    }
    return;
  }
  shuttingDown = true;
  if (signal) log(`${signal} received; stopping (press Ctrl-C again to force)`);

  const byName = (/** @type {string} */ n) => running.filter((c) => c.name === n);
  await Promise.all([...byName('api'), ...byName('worker')].map((c) => c.stop(DRAIN_GRACE_MS)));
  await Promise.all(byName('sandbox').map((c) => c.stop(SANDBOX_GRACE_MS)));
  await stopRedis?.();
  process.exit(code);
}

/**
 * Polls each URL until it answers 2xx; returns those that never did in time.
 * @param {string[]} urls
 */
async function waitForHealthy(urls) {
  const pending = new Set(urls);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!shuttingDown && pending.size > 0 && Date.now() < deadline) {
    for (const url of pending) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) pending.delete(url);
      } catch {
        // not listening yet
      }
    }
    if (pending.size > 0) await delay(READY_POLL_MS);
  }
  return [...pending];
}

/** @param {string} path */
function readConfig(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return die(`cannot read ${path}: ${/** @type {Error} */ (error).message}`);
  }
}

/** @param {string | undefined} raw */
function readPort(raw) {
  if (!raw) return 8080;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 65535) die(`PORT must be an integer 1-65535 (got "${raw}")`);
  return value;
}

/**
 * Values for every secret the config names (plus BROKER_ENCRYPTION_KEY) that the
 * environment does not set: reused from .data/dev.env, else generated and saved there.
 *
 * @param {unknown} brokerConfig
 * @returns {Record<string, string>}
 */
function devSecrets(brokerConfig) {
  const stored = readEnvFile(devEnvPath);
  /** @type {Record<string, string>} */
  const result = {};
  const generated = [];
  for (const name of [...secretNames(brokerConfig), 'BROKER_ENCRYPTION_KEY']) {
    if (process.env[name]) continue;
    if (!stored.get(name)) {
      stored.set(name, name === 'BROKER_ENCRYPTION_KEY' ? generateEncryptionKey() : generateSecret());
      generated.push(name);
    }
    result[name] = /** @type {string} */ (stored.get(name));
  }
  if (generated.length > 0) {
    writeExportFile(
      devEnvPath,
      stored,
      [
        'Development secrets generated by `pnpm start` for broker.config.example.json.',
        'Reused on every start; delete this file to rotate them. Never use them in production.',
      ].join('\n'),
    );
    log(`generated ${generated.join(', ')} in ${relative(root, devEnvPath)}`);
  }
  return result;
}

function printBanner() {
  const agentKeyName = config?.agents?.[0]?.key?.secret ?? 'AGENT_A_KEY';
  const devEnv = relative(process.cwd(), devEnvPath) || devEnvPath;
  const auth = `-H "Authorization: Bearer $${agentKeyName}"`;
  const lines = [
    '',
    `Broker API ready at ${apiUrl}${sandboxUrl ? `  (demo sandbox at ${sandboxUrl})` : ''}`,
    'Try it from another shell:',
    '',
    ...(existsSync(devEnvPath) ? [`  source ${devEnv}`] : []),
    `  JOB=$(curl -s -X POST ${apiUrl}/v1/jobs ${auth} -H 'Content-Type: application/json' \\`,
    `    -d '{"tool":"demo.getContact","input":{"id":"c_123"}}' | tee /dev/stderr \\`,
    `    | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id'); echo`,
    `  curl -s "${apiUrl}/v1/jobs/$JOB?waitMs=5000" ${auth}; echo`,
    ...(sandboxUrl && config?.triggerDelivery?.url?.startsWith(sandboxUrl)
      ? ['', 'A signed webhook, delivered to the sandbox as a trigger:', '', '  node scripts/sign-webhook.mjs stripe --send', `  curl -s ${sandboxUrl}/received; echo`]
      : []),
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
