import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { freePort } from '../helpers/free-port';
import { ROOT } from '../helpers/processes';
import type { OpenClawInstall } from './install';

/** One of the integration's example files, as a user would merge it into `~/.openclaw/openclaw.json`. */
export function integrationExample<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(join(ROOT, 'integrations', 'openclaw', file), 'utf8')) as T;
}

export interface GatewayOptions {
  /** The OpenAI-compatible stub the default agent's model points at. */
  modelUrl: string;
  /** The broker's base URL: replaces the example MCP server's `http://127.0.0.1:8080`. */
  brokerUrl: string;
  /** Environment the config's `${VAR}`s read (OPENCLAW_HOOKS_TOKEN, BROKER_AGENT_KEY). */
  env: Record<string, string>;
}

/**
 * The OpenClaw config of a stock gateway plus what this repository tells users
 * to merge in: `hooks` from openclaw.hooks.example.json and `mcp` from
 * openclaw.mcp.example.json, both verbatim except the broker's port. No
 * `agents.list`, so the only agent is the built-in default, `main`. The
 * default model is a local stub (`models.providers`, `api:
 * "openai-completions"`), so an agent run needs no network and no API key.
 */
export function gatewayConfig(options: GatewayOptions, port: number, home: string): Record<string, unknown> {
  const mcp = integrationExample<{
    mcp: { servers: { broker: { url: string } } };
  }>('openclaw.mcp.example.json');
  mcp.mcp.servers.broker.url = mcp.mcp.servers.broker.url.replace('http://127.0.0.1:8080', options.brokerUrl);
  return {
    gateway: {
      mode: 'local',
      port,
      bind: 'loopback',
      auth: { mode: 'token', token: options.env.OPENCLAW_GATEWAY_TOKEN },
    },
    ...integrationExample('openclaw.hooks.example.json'),
    ...mcp,
    agents: { defaults: { model: { primary: 'stub/stub-model' } } },
    models: {
      mode: 'merge',
      providers: {
        stub: {
          baseUrl: `${options.modelUrl}/v1`,
          apiKey: 'stub-local',
          api: 'openai-completions',
          models: [
            {
              id: 'stub-model',
              name: 'Stub model',
              reasoning: false,
              input: ['text'],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow: 128000,
              maxTokens: 4096,
            },
          ],
        },
      },
    },
    // Offline: no update check (it calls telemetry.openclaw.ai), and the log file stays in this test's directory.
    update: { checkOnStart: false },
    logging: { file: join(home, 'openclaw.log') },
  };
}

export interface Gateway {
  child: ChildProcess;
  url: string;
  home: string;
  /** Everything the gateway printed so far, colours stripped. */
  output(): string;
  /** `hook agent run completed runId=… status=…` lines: one per finished hook run. */
  completedRuns(): { runId: string; status: string }[];
  /** `openclaw mcp probe <server> --json` with this gateway's config and environment. */
  mcpProbe(server: string): Promise<{
    tools: string[];
    diagnostics: unknown[];
    servers: Record<string, unknown>;
  }>;
  stop(): Promise<void>;
}

/** The gateway could not listen on its port: another process took it after `freePort()` let it go. */
class PortInUseError extends Error {}

/**
 * `openclaw gateway run` in the foreground with its own OPENCLAW_HOME (config,
 * state, sessions, workspace), resolved once it prints `[gateway] ready`
 * (after `http server listening`: hooks are served). OPENCLAW_NO_RESPAWN keeps
 * the gateway in this child process, so stopping it stops the gateway.
 *
 * OpenClaw's `--port` takes 1-65535 only (it refuses 0, so the gateway cannot
 * pick its own port and report it): the port comes from `freePort()`, and if
 * another process takes it before the gateway listens (EADDRINUSE), the start
 * is tried once more on a fresh port. The answer's `url` carries the port.
 *
 * A start that fails (not ready in `timeoutMs`, an early exit, a spawn error)
 * stops the child, waits for its exit and removes its home before it rejects:
 * the caller gets no Gateway, so nothing else could clean up after it.
 */
export async function startGateway(install: OpenClawInstall, options: GatewayOptions, timeoutMs = 180_000): Promise<Gateway> {
  try {
    return await startGatewayOn(await freePort(), install, options, timeoutMs);
  } catch (err) {
    if (!(err instanceof PortInUseError)) throw err;
    return startGatewayOn(await freePort(), install, options, timeoutMs);
  }
}

async function startGatewayOn(port: number, install: OpenClawInstall, options: GatewayOptions, timeoutMs: number): Promise<Gateway> {
  const home = mkdtempSync(join(tmpdir(), 'broker-openclaw-'));
  mkdirSync(join(home, '.openclaw'), { recursive: true });
  mkdirSync(join(home, 'tmp'));
  writeFileSync(join(home, '.openclaw', 'openclaw.json'), JSON.stringify(gatewayConfig(options, port, home), null, 2));
  const env = {
    PATH: install.path,
    HOME: home,
    OPENCLAW_HOME: home,
    // OpenClaw keeps locks and staging directories under the temporary directory: this gateway's own.
    TMPDIR: join(home, 'tmp'),
    OPENCLAW_NO_RESPAWN: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    ...options.env,
  };
  const child = spawn(install.node, [install.cli, 'gateway', 'run', '--port', String(port), '--bind', 'loopback'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Colours are stripped from the whole text, not per chunk: an escape sequence can straddle two chunks.
  let raw = '';
  const out = () => stripVTControlCharacters(raw);
  // A child that never started (spawn error) emits 'error' and no 'exit'.
  let spawnError: Error | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.on('error', (err) => {
      if (child.pid === undefined) {
        spawnError = err;
        resolve(`spawn error: ${err.message}`);
      }
    });
  });
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // SIGTERM drains and closes in well under a second when idle; SIGKILL only if it hangs.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    // Sessions, transcripts, SQLite state and the workspace of this one gateway.
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`OpenClaw gateway not ready in ${timeoutMs} ms:\n${out()}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        raw += chunk.toString();
        if (/\[gateway\] ready/.test(out())) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(spawnError ?? new Error(`OpenClaw gateway exited (${code}) before it was ready:\n${out()}`));
      });
    });
  } catch (err) {
    await stop();
    // "another gateway instance is already listening on ws://127.0.0.1:<port>" (OpenClaw's GatewayLockError) or a bare EADDRINUSE.
    if (/EADDRINUSE|already listening on|address already in use/i.test(out())) throw new PortInUseError(`port ${port} was taken: ${(err as Error).message}`);
    throw err;
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    home,
    output: out,
    completedRuns: () => [...out().matchAll(/hook agent run completed runId=(\S+) status=(\S+)/g)].map((m) => ({ runId: m[1]!, status: m[2]! })),
    mcpProbe: (server) =>
      new Promise((resolve, reject) => {
        // Exits non-zero when a server did not connect or reported diagnostics, having printed the whole result.
        execFile(install.node, [install.cli, 'mcp', 'probe', server, '--json'], { env, timeout: 120_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
          const start = stdout.indexOf('{');
          if (start < 0) return reject(new Error(`openclaw mcp probe printed no JSON (${err?.message ?? 'exit 0'}):\n${stdout}\n${stderr}`));
          resolve(
            JSON.parse(stdout.slice(start)) as {
              tools: string[];
              diagnostics: unknown[];
              servers: Record<string, unknown>;
            },
          );
        });
      }),
    stop,
  };
}
