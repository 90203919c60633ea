import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropPrefix, REDIS_URL, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { interleave, round2 } from '../lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SECRET = `whsec_${randomBytes(24).toString('hex')}`;

/** A new Stripe event per request, signed the way Stripe signs (`t.body`, HMAC-SHA256). */
function signedEvent() {
  const body = JSON.stringify({
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    data: { object: { id: `pi_${randomBytes(8).toString('hex')}`, amount: 2000, currency: 'eur' } },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
  return { body, signature: `t=${t},v1=${v1}` };
}

async function load(url, connections, duration) {
  const result = await autocannon({
    url: `${url}/hooks/stripe`,
    method: 'POST',
    connections,
    duration,
    requests: [
      {
        setupRequest: (req) => {
          const { body, signature } = signedEvent();
          return { ...req, body, headers: { ...req.headers, 'content-type': 'application/json', 'stripe-signature': signature } };
        },
      },
    ],
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} failed requests against ${url}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

function startBare(prefix) {
  const child = spawn(process.execPath, [join(HERE, '../bare/ingest-server.mjs')], {
    env: { PATH: process.env.PATH, REDIS_URL, BENCH_PREFIX: prefix, BENCH_STRIPE_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      const m = /bare listening (\d+)/.exec(String(d));
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
  });
}

/** `POST /hooks/stripe` (verify, persist, dedupe, route) vs a bare raw handler doing HMAC, SET NX and one queue.add. */
export async function ingest({ quick }) {
  const prefix = uniquePrefix('ingest');
  const api = startApp('api', {
    BROKER_CONFIG: writeConfig({
      webhooks: { stripe: { type: 'stripe', secret: 'BENCH_STRIPE_SECRET' } },
      routes: [{ source: 'stripe', event: 'payment_intent.succeeded', trigger: 'process_successful_payment' }],
      triggerDelivery: { url: 'http://127.0.0.1:9/unused', secret: 'BENCH_TRIGGER_SECRET' },
    }),
    BROKER_REDIS_PREFIX: prefix,
    PORT: '0',
    BENCH_STRIPE_SECRET: SECRET,
    BENCH_TRIGGER_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  });
  await api.ready;
  const ours = `http://127.0.0.1:${/"port":(\d+)/.exec(api.output())[1]}`;
  const bare = await startBare(prefix);
  const duration = quick ? 1 : 4;
  const rounds = quick ? 1 : 5;
  const out = {};
  try {
    for (const connections of [10, 100]) {
      const lat = { ours: [], bare: [] };
      const result = await interleave({
        rounds,
        ours: async () => {
          const r = await load(ours, connections, duration);
          lat.ours.push(r);
          return r.rps;
        },
        bare: async () => {
          const r = await load(bare.url, connections, duration);
          lat.bare.push(r);
          return r.rps;
        },
      });
      const mid = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      out[`c${connections}`] = {
        connections,
        oursRps: round2(result.ours),
        bareRps: round2(result.bare),
        ratio: result.ratio,
        ratioSpread: result.ratioSpread,
        oursP50Ms: mid(lat.ours, 'p50'),
        oursP99Ms: mid(lat.ours, 'p99'),
        bareP50Ms: mid(lat.bare, 'p50'),
        bareP99Ms: mid(lat.bare, 'p99'),
      };
    }
  } finally {
    api.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await api.exited;
    await dropPrefix(prefix);
  }
  return { target: 'ratio >= 0.6', ...out };
}
