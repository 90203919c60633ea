// Child Node processes whose output is line-prefixed with their name, for start.mjs.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * @typedef {object} ManagedChild
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} process
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 * @property {() => boolean} running
 * @property {(graceMs: number) => Promise<void>} stop  SIGTERM, then SIGKILL after graceMs
 */

/**
 * Runs `node <script>` with `env`, printing each output line as `[name] line`.
 *
 * Children get their own process group (`detached`) so a terminal Ctrl-C reaches only
 * the launcher, which then stops them in order (the api and worker drain before the
 * sandbox they call and the Redis they use go away). An `exit` hook SIGTERMs any child
 * still running if the launcher dies without stopping them.
 *
 * @param {{ name: string, script: string, env: NodeJS.ProcessEnv, cwd: string, width: number }} options
 * @returns {ManagedChild}
 */
export function startChild({ name, script, env, cwd, width }) {
  const prefix = `[${name}]`.padEnd(width + 2);
  const child = spawn(process.execPath, [script], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  pipeLines(child.stdout, process.stdout, prefix);
  pipeLines(child.stderr, process.stderr, prefix);

  let done = false;
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`${prefix} failed to start: ${error.message}\n`);
      done = true;
      resolve({ code: 1, signal: null });
    });
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });

  const killOnExit = () => {
    if (!done) child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  return {
    name,
    process: child,
    exited,
    running: () => !done,
    async stop(graceMs) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`${prefix} did not exit within ${graceMs} ms of SIGTERM; killing it\n`);
        child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * @param {import('node:stream').Readable | null} input
 * @param {NodeJS.WriteStream} output
 * @param {string} prefix
 */
function pipeLines(input, output, prefix) {
  if (!input) return;
  // readline also flushes a final line that lacks a newline when the stream ends.
  createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
    output.write(`${prefix} ${line}\n`);
  });
}
