import { dropPrefix, startApi, uniquePrefix, writeConfig } from '../lib/env.mjs';
import { compareHttp, load, startBare } from '../lib/http-compare.mjs';
import { TARGETS } from '../lib/targets.mjs';

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

/** `POST /v1/jobs` (auth, validation, idempotency check, record, enqueue) vs a bare `queue.add` handler. */
export async function submit({ quick }) {
  const prefix = uniquePrefix('submit');
  const api = await startApi({
    BROKER_CONFIG: writeConfig(benchConfig('http://127.0.0.1:9')),
    BROKER_REDIS_PREFIX: prefix,
    BENCH_AGENT_KEY: AGENT_KEY,
    LOG_LEVEL: 'info',
  });
  const bare = await startBare('submit-server.mjs', { BENCH_PREFIX: prefix });
  try {
    return {
      target: `ratio >= ${TARGETS.submit}`,
      ...(await compareHttp({
        quick,
        ours: api.url,
        bare: bare.url,
        run: (url, connections, duration, side) =>
          load({
            url: `${url}/v1/jobs`,
            method: 'POST',
            connections,
            duration,
            headers: { 'content-type': 'application/json', ...(side === 'ours' ? { authorization: `Bearer ${AGENT_KEY}` } : {}) },
            body: BODY,
          }),
      })),
    };
  } finally {
    api.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await api.exited;
    await dropPrefix(prefix);
  }
}
