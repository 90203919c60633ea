#!/usr/bin/env node
// How many webhook events per second one API process accepts (verify + store + dedupe
// claim + enqueue, each a new event id), measured with autocannon against the built API.
//
//   pnpm build && node scripts/with-redis.mjs node scripts/bench-webhook-ingest.mjs [--duration 10] [--connections 50]
//
// Uses a GitHub-type source (HMAC-SHA256, like Shopify's; Stripe and Standard Webhooks
// add their timestamp check) with one route, so every event also enqueues a trigger job.
// No worker runs: the jobs wait in Redis under a throwaway prefix, deleted at the end.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// autocannon and ioredis are dependencies of the test package.
const requireFromTest = createRequire(join(root, 'test', 'package.json'));
const autocannon = requireFromTest('autocannon');
const { Redis } = requireFromTest('ioredis');

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
  },
});

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench-wh-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(24).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'broker-bench-'));
const configPath = join(dir, 'broker.config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    webhooks: { bench: { type: 'github', secret: 'BENCH_WEBHOOK_SECRET' } },
    routes: [{ source: 'bench', event: '*', trigger: 'bench_trigger' }],
    triggerDelivery: { url: 'http://127.0.0.1:9/unused', secret: 'BENCH_TRIGGER_SECRET' },
  }),
);

const api = spawn(process.execPath, [join(root, 'apps/api/dist/main.js')], {
  env: {
    PATH: process.env.PATH,
    BROKER_CONFIG: configPath,
    REDIS_URL: redisUrl,
    BROKER_REDIS_PREFIX: prefix,
    PORT: '0',
    // The production default: one access-log line per request is part of the cost.
    LOG_LEVEL: 'info',
    BENCH_WEBHOOK_SECRET: secret,
    BENCH_TRIGGER_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});

// PORT=0 picks a free port; the api logs the one it bound.
const port = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error(`api not ready:\n${out}`)), 15_000);
  const onData = (chunk) => {
    out += chunk;
    const match = /"port":(\d+)/.exec(out);
    if (match) {
      clearTimeout(timer);
      api.stdout.off('data', onData);
      api.stdout.resume(); // keep draining the log, or the api would block on a full pipe
      resolve(Number(match[1]));
    }
  };
  api.stdout.on('data', onData);
  api.once('exit', (code) => reject(new Error(`api exited (${code}):\n${out}`)));
});

const body = JSON.stringify({ action: 'opened', issue: { number: 1 }, repository: { full_name: 'bench/repo' } });
const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: Number(values.connections),
  duration: Number(values.duration),
  requests: [
    {
      method: 'POST',
      path: '/hooks/bench',
      // A new delivery id per request: every request is a new event, never a duplicate.
      setupRequest: (req) => ({
        ...req,
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'issues',
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': signature,
        },
        body,
      }),
    },
  ],
});

const redis = new Redis(redisUrl);
const stored = (await redis.keys(`${prefix}:evt:*`)).length;
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await redis.unlink(...keys);
} while (cursor !== '0');
redis.disconnect();
api.kill('SIGTERM');

console.log(
  JSON.stringify(
    {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      connections: Number(values.connections),
      durationS: Number(values.duration),
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
      '2xx': result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      eventsStored: stored,
    },
    null,
    2,
  ),
);
