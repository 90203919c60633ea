import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The `broker` CLI's build (`npx tsc -p apps/cli`; root `pnpm test` builds it first). */
export const CLI_MAIN = join(__dirname, '../../apps/cli/dist/main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `broker <args>` with `env` over the runner's base environment and `input` on stdin. */
export type Cli = (args: string[], env?: Record<string, string | undefined>, input?: string) => Promise<CliRun>;

/**
 * Spawns the CLI from its build the way an operator runs it, with PATH,
 * `baseEnv` and each call's `env` as its whole environment; killed after 15 s.
 * Asynchronous on purpose: an API under test in this process must keep
 * answering while the CLI talks to it.
 */
export function cliRunner(baseEnv: Record<string, string> = {}): Cli {
  return (args, env = {}, input) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { PATH: process.env.PATH, ...baseEnv, ...env } as NodeJS.ProcessEnv });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
}
