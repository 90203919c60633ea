#!/usr/bin/env node
// The official MCP conformance suite (@modelcontextprotocol/conformance) against the
// broker's /mcp: `pnpm test:conformance` (after `pnpm build`, with Redis; `pnpm test` runs it).
//
// This script runs on this package's own Node 22 (the suite needs 22+); the broker it
// starts, the built apps/api and apps/worker, runs on the runtime's Node (20), the same
// way scripts/start.mjs starts it: a config file, secrets in the environment, a Redis key
// prefix of its own. Upstream is a local HTTP stub that plays the tools the scenarios call.
//
// Each applicable scenario runs as its own `conformance server --scenario` process; the
// suite writes its checks to checks.json, which gives the table. Exit code 1 when any
// applicable scenario has a failed check, or when the suite knows a server scenario this
// file does not classify (a new suite version: decide whether it applies).

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const suiteCli = join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

const AGENT_KEY = `conformance-agent-${randomBytes(12).toString('hex')}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `conformance-${randomBytes(4).toString('hex')}`;
const READY_TIMEOUT_MS = 20_000;
const SCENARIO_TIMEOUT_MS = 60_000;
/** `conformance list --server` prints a list and exits: a second or two. */
const LIST_TIMEOUT_MS = 30_000;
/** `node -v`, to print the broker's Node version. */
const VERSION_TIMEOUT_MS = 10_000;
/** How long the upstream export behind test_tool_with_progress runs (see the stub). */
const EXPORT_MS = 3_500;

/** What to undo, latest first; run once, at the end or on a signal. */
const cleanups = [];
let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`cleanup: ${error.message}`);
      }
    }
  })();
  return cleaning;
}

// Interrupted (Ctrl-C, CI cancelling the step), the broker's processes and keys must not
// outlive the run; a reader that went away (`| head`) must not end it before its cleanup.
let interrupted;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    interrupted = signal;
    void cleanUp().then(() => process.exit(128 + osConstants.signals[signal]));
  });
}
process.stdout.on('error', () => {});

/**
 * The server scenarios that apply to the broker, a tools-only server. The scenarios that
 * call a fixed test tool (`test_*`) are played by tools declared in the config below
 * against the stub: `test.simple_text` is `test_simple_text` over MCP (dots become
 * underscores, tool-names.ts). Their answers are the broker's own, as any agent gets
 * them (a job's result as JSON text plus structuredContent; a failed job as a tool error),
 * not the reference server's fixed texts; the suite checks the shape, not the words.
 */
const APPLICABLE = [
  { name: 'server-initialize', what: 'initialize + initialized through the SDK client (2025-11-25)' },
  { name: 'ping', what: 'ping answers {}' },
  { name: 'tools-list', what: 'every tool has name, description, inputSchema' },
  { name: 'tools-call-simple-text', what: 'test_simple_text: a GET tool; the job result comes back as text content' },
  { name: 'tools-call-error', what: 'test_error_handling: the upstream answers 400; the failed job is isError: true with a text' },
  { name: 'tools-call-with-progress', what: 'test_tool_with_progress: an async export that takes ~3.5 s; progress notifications as the job advances' },
  { name: 'dns-rebinding-protection', what: 'Host/Origin evil.example.com is refused 4xx, the own localhost origin accepted (mcp-origin.ts)' },
];

/** Every other server scenario of the suite, with why it does not apply. */
const NOT_APPLICABLE = [
  { name: 'logging-set-level', why: 'no logging capability: the broker sends no log notifications (job state is in the result and progress)' },
  { name: 'completion-complete', why: 'no completions capability: there are no prompts or resource templates to complete' },
  { name: 'tools-call-image', why: 'tool results are JSON (text + structuredContent); the broker never returns image content' },
  { name: 'tools-call-audio', why: 'tool results are JSON; the broker never returns audio content' },
  { name: 'tools-call-embedded-resource', why: 'tool results are JSON; the broker never embeds resources' },
  { name: 'tools-call-mixed-content', why: 'needs text + image + resource content in one result; the broker returns JSON only' },
  { name: 'tools-call-with-logging', why: 'needs log notifications during a call (logging capability), which the broker does not have' },
  { name: 'tools-call-sampling', why: 'a tool that asks the client to sample an LLM: the broker never sends requests to the client' },
  { name: 'tools-call-elicitation', why: 'a tool that asks the user for input: the broker never sends requests to the client' },
  { name: 'elicitation-sep1034-defaults', why: 'elicitation (server -> client requests), which the broker does not make' },
  { name: 'elicitation-sep1330-enums', why: 'elicitation (server -> client requests), which the broker does not make' },
  {
    name: 'json-schema-2020-12',
    why: 'pending in the suite; a declared tool cannot carry its schema: declared inputs compile with draft-07 Ajv (packages/tools/src/declared/json-schema.ts refuses a 2020-12 $schema) and tools/list drops $schema (mcp-server.ts objectSchema)',
  },
  {
    name: 'server-sse-polling',
    why: 'pending in the suite; needs sessions and an event store (Last-Event-ID resumption) and a test_reconnection tool that closes its stream mid-call: /mcp is stateless',
  },
  { name: 'server-sse-multiple-streams', why: 'needs an Mcp-Session-Id: /mcp is stateless (no sessions), so the scenario only warns and checks nothing' },
  { name: 'resources-list', why: 'no resources capability: the broker offers tools only' },
  { name: 'resources-read-text', why: 'no resources capability' },
  { name: 'resources-read-binary', why: 'no resources capability' },
  { name: 'resources-templates-read', why: 'no resources capability' },
  { name: 'resources-subscribe', why: 'no resources capability' },
  { name: 'resources-unsubscribe', why: 'no resources capability' },
  { name: 'prompts-list', why: 'no prompts capability: the broker offers tools only' },
  { name: 'prompts-get-simple', why: 'no prompts capability' },
  { name: 'prompts-get-with-args', why: 'no prompts capability' },
  { name: 'prompts-get-embedded-resource', why: 'no prompts capability' },
  { name: 'prompts-get-with-image', why: 'no prompts capability' },
];

/** The broker config: one agent that sees only the test tools, one integration on the stub. */
function brokerConfig(upstreamUrl) {
  return {
    agents: [{ id: 'conformance', key: { secret: 'CONFORMANCE_AGENT_KEY' }, scopes: ['tools:test.*'] }],
    integrations: {
      test: {
        baseUrl: upstreamUrl,
        // One try: test_error_handling's 400 is final anyway, and nothing here should wait on a retry.
        retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
        tools: [
          { name: 'test.simple_text', description: 'Reads a short text from the test upstream.', method: 'GET', path: '/simple-text' },
          { name: 'test.error_handling', description: 'Calls an upstream endpoint that always refuses (400).', method: 'GET', path: '/always-400' },
          {
            name: 'test.tool_with_progress',
            description: 'Starts an export upstream and waits for it; reports progress while it runs.',
            method: 'POST',
            path: '/exports',
            idempotent: true,
            async: {
              referencePath: '$.id',
              deadlineMs: 30_000,
              poll: {
                path: '/exports/{reference}',
                doneWhen: { path: '$.status', equals: 'done' },
                pendingWhen: { path: '$.status', equals: 'running' },
                resultPath: '$.result',
                progressPath: '$.percent',
                intervalMs: 250,
                maxIntervalMs: 250,
              },
            },
          },
        ],
      },
    },
  };
}

/**
 * The upstream API. The export takes EXPORT_MS: the MCP call re-reads its job about once a
 * second while a client waits for progress (PROGRESS_POLL_MS in wait-for-job.ts), so the
 * client sees the job queued, then running at a few different percentages; the scenario
 * wants at least three notifications.
 */
function startStub() {
  const exports = new Map();
  const json = (res, status, body) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://stub');
    const exp = /^\/exports\/(exp_\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/simple-text') return json(res, 200, { text: 'This is a simple text response for testing.' });
    if (req.method === 'GET' && url.pathname === '/always-400') return json(res, 400, { error: 'This tool intentionally returns an error for testing' });
    if (req.method === 'POST' && url.pathname === '/exports') {
      const id = `exp_${exports.size + 1}`;
      exports.set(id, Date.now());
      return json(res, 202, { id, status: 'running', percent: 0 });
    }
    if (req.method === 'GET' && exp && exports.has(exp[1])) {
      const elapsed = Date.now() - exports.get(exp[1]);
      if (elapsed >= EXPORT_MS) return json(res, 200, { id: exp[1], status: 'done', percent: 100, result: { rows: 42 } });
      return json(res, 200, { id: exp[1], status: 'running', percent: Math.floor((100 * elapsed) / EXPORT_MS) });
    }
    return json(res, 404, { error: 'not found' });
  });
  return listen(server);
}

/**
 * The suite's CLI cannot send headers (0.1.16: `server` takes --url and nothing for auth,
 * and its client uses no environment), while /mcp wants `Authorization: Bearer <agent
 * key>`. So the suite talks to this proxy, which adds the agent's header, as an MCP client
 * configured with the key would, and passes everything else through unchanged, Host and
 * Origin included, so dns-rebinding-protection checks the broker's own Origin validation.
 */
function startAuthProxy(apiPort) {
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port: apiPort, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${AGENT_KEY}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    // An SSE answer ends when the client goes away; so does the request upstream.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return listen(server);
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ server, port, url: `http://127.0.0.1:${port}` });
    });
  });
}

/**
 * The runtime's Node for the broker: the first `node` on PATH outside node_modules/.bin
 * (pnpm puts this package's Node 22 first). BROKER_NODE overrides it.
 */
function brokerNode() {
  if (process.env.BROKER_NODE) return process.env.BROKER_NODE;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error('no node on PATH outside node_modules/.bin for the broker; set BROKER_NODE');
}

/** Starts apps/<app>/dist/main.js and resolves once its output contains `readyText`. */
function startApp(node, app, env, readyText) {
  const child = spawn(node, [join(root, 'apps', app, 'dist', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} not ready in ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk;
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code}) before it was ready:\n${output}`));
    });
  });
  // Whoever awaits `ready` sees the failure; the other app's, once stopped, is no crash.
  ready.catch(() => undefined);
  return { app, child, exited, ready, output: () => output };
}

async function stopApp(proc) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
  await proc.exited;
  clearTimeout(timer);
}

/** Runs one scenario with the suite's CLI; returns its checks (from checks.json) and output. */
function runScenario(name, url, outDir) {
  return new Promise((resolve) => {
    const dir = join(outDir, name);
    const child = spawn(process.execPath, [suiteCli, 'server', '--url', url, '--scenario', name, '-o', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    // A stuck scenario is killed and fails, saying so; the next one still runs.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, SCENARIO_TIMEOUT_MS);
    const exited = new Promise((done) => child.once('exit', done));
    // Interrupted, it must not write into the work directory after it is removed.
    cleanups.unshift(() => (child.exitCode === null && child.signalCode === null ? (child.kill('SIGKILL'), exited) : undefined));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) output += `\n[run.mjs] scenario ${name} did not finish in ${SCENARIO_TIMEOUT_MS} ms: killed (SIGKILL)\n`;
      let checks = [];
      if (existsSync(dir)) {
        for (const run of readdirSync(dir)) {
          const file = join(dir, run, 'checks.json');
          if (existsSync(file)) checks = JSON.parse(readFileSync(file, 'utf8'));
        }
      }
      resolve({ name, code: code ?? signal, timedOut, checks, output });
    });
  });
}

/** The server scenarios this suite version knows (`conformance list --server`); killed, and an error, after LIST_TIMEOUT_MS. */
function listSuiteScenarios() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [suiteCli, 'list', '--server'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, LIST_TIMEOUT_MS);
    const exited = new Promise((done) => child.once('exit', done));
    cleanups.unshift(() => (child.exitCode === null && child.signalCode === null ? (child.kill('SIGKILL'), exited) : undefined));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`conformance list --server could not start: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`\`conformance list --server\` (${suiteCli}) did not finish in ${LIST_TIMEOUT_MS} ms: killed. It printed:\n${output}`));
      else if (code === 0) resolve([...output.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]));
      else reject(new Error(`conformance list --server exited ${code ?? signal}`));
    });
  });
}

/** Deletes the run's keys (BullMQ's and the broker's) from Redis; ioredis as packages/redis has it. */
async function dropPrefix() {
  const { Redis } = createRequire(join(root, 'packages', 'redis', 'package.json'))('ioredis');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const count = (checks, status) => checks.filter((c) => c.status === status).length;
/** Passed: the suite exited 0, at least one check succeeded (a scenario that only warns checked nothing), none failed. */
const passed = (result) => result.code === 0 && count(result.checks, 'SUCCESS') > 0 && count(result.checks, 'FAILURE') === 0;

function printTable(results) {
  const what = new Map(APPLICABLE.map((s) => [s.name, s.what]));
  const rows = results.map((r) => [
    r.name,
    passed(r) ? 'PASS' : 'FAIL',
    ...['SUCCESS', 'FAILURE', 'WARNING'].map((status) => String(count(r.checks, status))),
    what.get(r.name) ?? '',
  ]);
  const head = ['scenario', 'result', 'passed', 'failed', 'warnings', 'what it exercises here'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `  ${cells.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd();
  console.log(`\nMCP conformance (@modelcontextprotocol/conformance) against the broker's /mcp\n`);
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  return rows.filter((row) => row[1] === 'FAIL').map((row) => row[0]);
}

async function main() {
  const started = Date.now();
  for (const app of ['api', 'worker']) {
    if (!existsSync(join(root, 'apps', app, 'dist', 'main.js'))) throw new Error(`apps/${app}/dist/main.js is missing: run \`pnpm build\` first`);
  }
  const known = new Set([...APPLICABLE, ...NOT_APPLICABLE].map((s) => s.name));
  const unclassified = (await listSuiteScenarios()).filter((name) => !known.has(name));

  const work = mkdtempSync(join(tmpdir(), 'broker-conformance-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  let failed;
  try {
    const stub = await startStub();
    cleanups.unshift(() => new Promise((resolve) => stub.server.close(resolve).closeAllConnections()));
    const configPath = join(work, 'broker.config.json');
    writeFileSync(configPath, JSON.stringify(brokerConfig(stub.url), null, 2));

    const node = brokerNode();
    const env = {
      PATH: process.env.PATH ?? '',
      BROKER_CONFIG: configPath,
      BROKER_REDIS_PREFIX: PREFIX,
      REDIS_URL,
      CONFORMANCE_AGENT_KEY: AGENT_KEY,
      LOG_LEVEL: 'info',
    };
    const api = startApp(node, 'api', { ...env, PORT: '0', HOST: '127.0.0.1' }, 'api listening');
    const worker = startApp(node, 'worker', env, 'worker ready');
    cleanups.unshift(() => Promise.all([stopApp(api), stopApp(worker)]), dropPrefix);
    await Promise.all([api.ready, worker.ready]);
    const apiPort = Number(/"port":(\d+)/.exec(api.output())?.[1]);
    const proxy = await startAuthProxy(apiPort);
    cleanups.unshift(() => new Promise((resolve) => proxy.server.close(resolve).closeAllConnections()));
    const mcpUrl = `${proxy.url}/mcp`;
    console.log(
      `broker on ${node} ${execFileSync(node, ['-v'], { encoding: 'utf8', timeout: VERSION_TIMEOUT_MS }).trim()} (Redis prefix ${PREFIX}), suite on Node v${process.versions.node}: ${mcpUrl}`,
    );

    const results = [];
    for (const { name } of APPLICABLE) {
      const at = Date.now();
      const result = await runScenario(name, mcpUrl, join(work, 'results'));
      if (interrupted) throw new Error(`interrupted (${interrupted})`);
      const failure = result.timedOut ? `FAILED: did not finish in ${SCENARIO_TIMEOUT_MS} ms, killed` : 'FAILED';
      console.log(`  ${name}: ${passed(result) ? 'ok' : failure} (${Date.now() - at} ms)`);
      results.push(result);
    }
    failed = printTable(results);
    for (const result of results) {
      const problems = result.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      for (const c of problems) console.log(`\n  ${result.name} ${c.status} ${c.name}: ${c.errorMessage ?? c.description}`);
      if (failed.includes(result.name)) console.log(`\n--- ${result.name}: suite output ---\n${result.output}`);
    }
    if (failed.length > 0) {
      for (const proc of [api, worker]) console.log(`\n--- ${proc.app} output (tail) ---\n${proc.output().slice(-4000)}`);
    }
  } finally {
    await cleanUp();
  }

  console.log(`\nNot applicable to a tools-only, stateless server (not run):`);
  for (const { name, why } of NOT_APPLICABLE) console.log(`  ${name}: ${why}`);
  if (unclassified.length > 0) {
    console.log(
      `\nThe suite has server scenarios this runner does not classify: ${unclassified.join(', ')}. Add each to APPLICABLE or NOT_APPLICABLE in ${fileURLToPath(import.meta.url)}.`,
    );
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n${APPLICABLE.length - failed.length}/${APPLICABLE.length} applicable scenarios passed in ${seconds} s.`);
  if (failed.length > 0 || unclassified.length > 0) process.exit(1);
}

try {
  await main();
} catch (error) {
  console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
