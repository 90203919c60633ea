import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REDIS_URL } from './redis';

export const ROOT = resolve(__dirname, '../..');

/** Writes a config object to a temporary JSON file and returns its path. */
export function writeConfigFile(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-test-'));
  const file = join(dir, 'broker.config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts a production entry point (`apps/<app>/dist/main.js`) as its own
 * process and resolves once its output contains `readyText`.
 */
export async function startApp(app: 'worker' | 'api', env: Record<string, string>, readyText: string, timeoutMs = 15_000): Promise<RunningProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'apps', app, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown')));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} not ready in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(readyText)) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out, exited };
}

/** Stops a process: SIGKILL if it has not exited `graceMs` after SIGTERM. */
export async function stopApp(proc: RunningProcess, graceMs = 10_000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** The largest number of timestamps inside any window [t, t + windowMs). */
export function maxInSlidingWindow(timestamps: number[], windowMs: number): number {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let max = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
