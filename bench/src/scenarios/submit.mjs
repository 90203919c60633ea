import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropPrefix, REDIS_URL, startApp, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { interleave, round2 } from '../lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const AGENT_KEY = 'bench-agent-key-0123456789abcdef';
const BODY = JSON.stringify({ tool: 'bench.echo', input: { id: 'c_123' } });

export function benchConfig(baseUrl, extra = {}) {
  return {
    agents: [{ id: 'bench', key: { secret: 'BENCH_AGENT_KEY' }, scopes: ['tools:*'] }],
    integrations: {
      bench: {
        baseUrl,
        ...extra,
        tools: [
          {
            name: 'bench.echo',
            method: 'GET',
            path: '/echo/{id}',
            input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
          },
        ],
      },
    },
  };
}

function startBare(prefix) {
  const child = spawn(process.execPath, [join(HERE, '../bare/submit-server.mjs')], {
    env: { PATH: process.env.PATH, REDIS_URL, BENCH_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      const m = /bare listening (\d+)/.exec(String(d));
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
  });
}

async function load(url, connections, duration, headers) {
  const result = await autocannon({
    url: `${url}/v1/jobs`,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} failed requests against ${url}`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** `POST /v1/jobs` (auth, validation, idempotency check, record, enqueue) vs a bare `queue.add` handler. */
export async function submit({ quick }) {
  const prefix = uniquePrefix('submit');
  const api = startApp('api', {
    BROKER_CONFIG: writeConfig(benchConfig('http://127.0.0.1:9')),
    BROKER_REDIS_PREFIX: prefix,
    PORT: '0',
    BENCH_AGENT_KEY: AGENT_KEY,
    LOG_LEVEL: 'info',
  });
  await api.ready;
  const ours = `http://127.0.0.1:${/"port":(\d+)/.exec(api.output())[1]}`;
  const bare = await startBare(prefix);
  const duration = quick ? 1 : 4;
  const rounds = quick ? 1 : 5;
  const out = {};
  try {
    for (const connections of [10, 100]) {
      const samples = { ours: [], bare: [] };
      const result = await interleave({
        rounds,
        ours: async () => {
          const r = await load(ours, connections, duration, { authorization: `Bearer ${AGENT_KEY}` });
          samples.ours.push(r);
          return r.rps;
        },
        bare: async () => {
          const r = await load(bare.url, connections, duration, {});
          samples.bare.push(r);
          return r.rps;
        },
      });
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
  } finally {
    api.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await api.exited;
    await dropPrefix(prefix);
  }
  return { target: 'ratio >= 0.6', ...out };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
