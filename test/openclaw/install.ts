import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The OpenClaw release this test is written against (its docs and behaviour were read from it). */
export const OPENCLAW_VERSION = '2026.9.6';

/**
 * The `node` npm package's Node 24 binary, pinned so that every install runs the same Node
 * (openclaw's `engines` asks for >=24.16.0; 24.21.0 is the one this test was run with).
 */
export const NODE_VERSION = '24.21.0';
const NODE_SPEC = `node@${NODE_VERSION}`;

/** What an installed OpenClaw needs to run: its own Node, its CLI, and a PATH that finds that Node first. */
export interface OpenClawInstall {
  dir: string;
  node: string;
  cli: string;
  /** PATH with the install's node_modules/.bin first: the gateway's own child processes use that Node. */
  path: string;
  /** ms spent installing; 0 when an earlier install was reused. */
  installMs: number;
}

function installedVersion(dir: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * OpenClaw 2026.9.6 and the Node 24.21.0 it runs on (about 800 MB) live in a cache
 * directory, outside the workspace's lockfile, and are installed on first use
 * (and again when the cache holds other versions of either).
 * `OPENCLAW_CACHE_DIR` overrides the place (default
 * `${XDG_CACHE_HOME:-~/.cache}/broker-openclaw`).
 *
 * Two npm runs, not one: openclaw's preinstall script refuses to install under
 * any Node older than 24.16 ("this OpenClaw release requires Node >=24.16.0"),
 * and the Node running npm is this workspace's Node 20. So Node 24 (the `node`
 * npm package) comes first, then openclaw is installed with it first on the PATH.
 */
export async function ensureOpenClaw(): Promise<OpenClawInstall> {
  const dir = process.env.OPENCLAW_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'broker-openclaw');
  const bin = join(dir, 'node_modules', '.bin');
  const path = [bin, process.env.PATH].filter(Boolean).join(delimiter);
  const node = join(bin, 'node');
  const cli = join(dir, 'node_modules', 'openclaw', 'openclaw.mjs');
  if (installedVersion(dir, 'openclaw') === OPENCLAW_VERSION && installedVersion(dir, 'node') === NODE_VERSION && existsSync(node)) {
    return { dir, node, cli, path, installMs: 0 };
  }
  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  const npm = ['install', '--prefix', dir, '--no-audit', '--no-fund', '--save-exact'];
  const options = { cwd: dir, maxBuffer: 16 * 1024 * 1024 };
  await run('npm', [...npm, NODE_SPEC], options);
  await run('npm', [...npm, `openclaw@${OPENCLAW_VERSION}`, NODE_SPEC], {
    ...options,
    env: { ...process.env, PATH: path },
  });
  const { stdout } = await run(node, [cli, '--version'], {
    env: { ...process.env, PATH: path },
  });
  if (!stdout.includes(OPENCLAW_VERSION)) throw new Error(`installed OpenClaw says "${stdout.trim()}", not ${OPENCLAW_VERSION}`);
  return { dir, node, cli, path, installMs: Date.now() - started };
}
