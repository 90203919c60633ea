import { existsSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { ConfigError, parseConfig } from '@broker/shared/config/load';
import { createRedis } from '@broker/redis/connection';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { createWorkerApp, startMetricsServer, workerAdminTokenChecker, workerAgentKeyChecker, type MetricsServer, type WorkerApp } from '@broker/worker';
import { testLogger } from '../helpers/broker';
import { CLI_MAIN, cliRunner } from '../helpers/cli-runner';
import { demoCreateOrderTool, demoGetContactTool } from '../helpers/demo-tools';
import { REDIS_URL } from '../helpers/redis';
import { bearer, portOf, startApi, type Harness } from './harness';

/**
 * `agents[].key` as `{"sha256": …}` (docs/guardrails.md#connections-per-agent-and-hashed-keys): digests printed by the real
 * `broker keys hash`, written in the config, authenticate their keys on the
 * API, on `/mcp` and on the worker's `/metrics` (403, a known key that is not
 * the admin token); no secret store holds the keys.
 */

const KEY = {
  hashed: 'key-hashed-agent-0123',
  upper: 'key-upper-hex-agent-4567',
  rotOld: 'key-rotating-old-89ab',
  rotNew: 'key-rotating-new-cdef',
  plain: 'key-plain-secret-agent',
};
const ADMIN = 'admin-token-hashed-keys';

const cli = cliRunner();

/** `broker keys hash`, spawned from its build as an operator runs it: the key as argument, or `-` and stdin. */
async function keysHash(key: string, via: 'argument' | 'stdin'): Promise<string> {
  const run = via === 'argument' ? await cli(['keys', 'hash', key]) : await cli(['keys', 'hash', '-'], {}, `${key}\n`);
  if (run.code !== 0) throw new Error(`keys hash exited ${run.code}: ${run.stderr}`);
  return run.stdout.trim();
}

let digest: Record<keyof typeof KEY, string>;
let config: BrokerConfig;
let h: Harness;
let workerRedis: ReturnType<typeof createRedis>;
let worker: WorkerApp;
let metrics: MetricsServer;

beforeAll(async () => {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build it with "pnpm build"`);
  const entries = await Promise.all(
    (Object.keys(KEY) as (keyof typeof KEY)[]).map(async (name, i) => [name, await keysHash(KEY[name], i % 2 === 0 ? 'argument' : 'stdin')] as const),
  );
  digest = Object.fromEntries(entries) as Record<keyof typeof KEY, string>;
  config = parseConfig({
    admin: { token: { secret: 'BROKER_ADMIN_TOKEN' } },
    agents: [
      // Different scopes per agent, so the tool list tells which agent a key was taken for.
      { id: 'hashed', key: { sha256: digest.hashed }, scopes: ['tools:demo.getContact'] },
      { id: 'upper', key: { sha256: digest.upper.toUpperCase() }, scopes: ['tools:demo.createOrder'] },
      { id: 'rotating', key: { sha256: [digest.rotOld, digest.rotNew] }, scopes: ['tools:demo.*'] },
      { id: 'plain', key: { secret: 'PLAIN_AGENT_KEY' }, scopes: [] },
    ],
    integrations: {
      demo: { baseUrl: 'http://127.0.0.1:9', tools: [demoGetContactTool, demoCreateOrderTool] },
    },
  });
  h = await startApi('hashed-keys', { config });
  // The hashed agents' keys are in no secret: only the plain agent and the admin token are.
  for (const name of Object.keys(h.env)) delete h.env[name];
  Object.assign(h.env, { PLAIN_AGENT_KEY: KEY.plain, BROKER_ADMIN_TOKEN: ADMIN });
  workerRedis = createRedis(REDIS_URL, 'worker');
  const secrets = envSecretsProvider(h.env);
  worker = createWorkerApp({ config, redis: workerRedis, prefix: h.prefix, secrets, logger: testLogger('hashed-keys') });
  await worker.ready();
  metrics = await startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    metrics: worker.metrics,
    isAdmin: workerAdminTokenChecker(config, secrets),
    isAgent: workerAgentKeyChecker(config, secrets),
    logger: testLogger('hashed-keys-metrics'),
  });
});

afterAll(async () => {
  await metrics?.close();
  await worker?.close();
  workerRedis?.disconnect();
  await h?.close();
});

const toolsOf = async (key: string) => ((await request(h.server).get('/v1/tools').set(bearer(key)).expect(200)).body.tools as { name: string }[]).map((t) => t.name).sort();

describe('broker keys hash', () => {
  it('prints 64 lower-case hex characters, the same from the argument and from stdin', async () => {
    expect(digest.hashed).toMatch(/^[0-9a-f]{64}$/);
    expect(await keysHash(KEY.hashed, 'stdin')).toBe(digest.hashed);
    expect(await keysHash(KEY.upper, 'argument')).toBe(digest.upper);
  });
});

describe('an agent whose key is configured as its sha256', () => {
  it('authenticates with that key (GET /v1/tools 200, its own scopes)', async () => {
    expect(await toolsOf(KEY.hashed)).toEqual(['demo.getContact']);
  });

  it('answers 401 to a wrong key, and to the digest itself presented as a key', async () => {
    for (const key of ['key-hashed-agent-0124', `${KEY.hashed}x`, KEY.hashed.toUpperCase(), digest.hashed, digest.hashed.toUpperCase()]) {
      const res = await request(h.server).get('/v1/tools').set(bearer(key));
      expect({ key, status: res.status, code: res.body.code }).toEqual({ key, status: 401, code: 'UNAUTHENTICATED' });
    }
  });

  it('accepts a digest written in upper-case hex', async () => {
    expect(config.agents.find((a) => a.id === 'upper')!.key).toEqual({ sha256: [digest.upper] });
    expect(await toolsOf(KEY.upper)).toEqual(['demo.createOrder']);
  });

  it('accepts every key of a list of digests (rotation)', async () => {
    expect(await toolsOf(KEY.rotOld)).toEqual(['demo.createOrder', 'demo.getContact']);
    expect(await toolsOf(KEY.rotNew)).toEqual(['demo.createOrder', 'demo.getContact']);
  });

  it('sits beside agents whose key is a secret', async () => {
    expect(await toolsOf(KEY.plain)).toEqual([]);
  });

  it('authenticates on /mcp the same way', async () => {
    const client = new Client({ name: 'broker-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(h.server)}/mcp`), { requestInit: { headers: bearer(KEY.hashed) } }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('demo_getContact');
    } finally {
      await client.close();
    }
    const stranger = new Client({ name: 'broker-test', version: '1.0.0' });
    await expect(
      stranger.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${portOf(h.server)}/mcp`), { requestInit: { headers: bearer(digest.hashed) } })),
    ).rejects.toThrow();
  });

  it('is a known key on /metrics: 403 from the worker’s metrics server and the api, 401 for a wrong key', async () => {
    const url = `http://127.0.0.1:${metrics.port}/metrics`;
    for (const key of [KEY.hashed, KEY.upper, KEY.rotOld, KEY.rotNew, KEY.plain]) {
      const worker = await fetch(url, { headers: bearer(key) });
      expect({ key, status: worker.status }).toEqual({ key, status: 403 });
      expect(await worker.json()).toMatchObject({ status: 403, code: 'FORBIDDEN', detail: expect.stringMatching(/metrics need the admin token/i) });
      await request(h.server).get('/metrics').set(bearer(key)).expect(403);
    }
    for (const key of ['wrong', digest.hashed]) {
      expect((await fetch(url, { headers: bearer(key) })).status).toBe(401);
      await request(h.server).get('/metrics').set(bearer(key)).expect(401);
    }
    expect((await fetch(url, { headers: bearer(ADMIN) })).status).toBe(200);
  });
});

describe('config', () => {
  const problemsOf = (key: unknown): string[] => {
    try {
      parseConfig({ agents: [{ id: 'a', key }] });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };
  const hex = 'ab'.repeat(32);

  it('takes exactly one of secret and sha256', () => {
    const oneOf = /^agents\.0\.key: give exactly one of "secret" .* or "sha256"/;
    expect(problemsOf({ secret: 'A_KEY', sha256: hex })).toEqual([expect.stringMatching(oneOf)]);
    expect(problemsOf({})).toEqual([expect.stringMatching(oneOf)]);
    expect(problemsOf({ secret: 'A_KEY' })).toEqual([]);
    expect(problemsOf({ sha256: hex })).toEqual([]);
  });

  it('refuses a digest that is not 64 hex characters, at its path', () => {
    const notHex = 'a sha256 digest: 64 hex characters, as `broker keys hash` prints it';
    expect(problemsOf({ sha256: 'zz'.repeat(32) })).toEqual([`agents.0.key.sha256: ${notHex}`]);
    expect(problemsOf({ sha256: hex.slice(2) })).toEqual([`agents.0.key.sha256: ${notHex}`]);
    expect(problemsOf({ sha256: [hex, 'not-a-digest'] })).toEqual([`agents.0.key.sha256.1: ${notHex}`]);
    expect(problemsOf({ sha256: [] })).toEqual([expect.stringMatching(/^agents\.0\.key\.sha256: /)]);
    expect(problemsOf({ sha256: hex, extra: 1 })).toEqual([expect.stringMatching(/^agents\.0\.key: .*extra/)]);
  });
});
