import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/processes';

/**
 * How people get the broker's packages: the `broker` CLI on their PATH, the
 * ways docs/mcp-and-openclaw.md ("CLI") gives (each run here for real, into a throwaway prefix),
 * and `@broker/client` as a publishable npm package holding only its build.
 */

const exec = promisify(execFile);
const readJson = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;
const cleanup: string[] = [];

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-path-'));
  cleanup.push(dir);
  return dir;
}

/** `pnpm` and `npm` from PATH, with nothing of this checkout's environment that could change where they install. */
const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...extra });

describe('the broker CLI', () => {
  it('is the bin "broker" of @broker/cli, a built script with a node shebang', () => {
    expect(readJson('apps/cli/package.json').bin).toEqual({ broker: 'dist/main.js' });
    expect(readFileSync(join(ROOT, 'apps/cli/dist/main.js'), 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
  });

  it('runs as `pnpm -s broker …` from the checkout, without installing anything', async () => {
    const { stdout } = await exec('pnpm', ['-s', 'broker', 'config', 'check', 'broker.config.example.json', '--json'], { cwd: ROOT, env: env() });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, integrations: ['demo'] });
  }, 30_000);

  it('lands on the PATH with `npm i -g ./apps/cli`, and runs from any directory', async () => {
    const prefix = scratch();
    await exec('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', './apps/cli'], { cwd: ROOT, env: env() });
    const { stdout } = await exec('broker', ['config', 'check', join(ROOT, 'broker.config.example.json')], {
      cwd: scratch(),
      env: env({ PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` }),
    });
    expect(stdout).toMatch(/broker\.config\.example\.json: ok/);
  }, 60_000);

  it('lands on the PATH with `pnpm link --global` in apps/cli (PNPM_HOME on the PATH, as `pnpm setup` leaves it)', async () => {
    const home = scratch();
    const PATH = `${home}:${process.env.PATH ?? ''}`;
    await exec('pnpm', ['link', '--global'], { cwd: join(ROOT, 'apps/cli'), env: env({ PNPM_HOME: home, PATH }) });
    const { stdout } = await exec('broker', ['--help'], { cwd: scratch(), env: env({ PATH }) });
    expect(stdout).toMatch(/^Usage: broker <command>/);
  }, 60_000);
});

describe('@broker/client', () => {
  const manifest = readJson('packages/client/package.json') as {
    private?: boolean;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    publishConfig?: { access?: string };
    exports: Record<string, unknown>;
  };

  it('is publishable: not private, public access, no dependency at all (so none on the workspace)', () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.publishConfig).toEqual({ access: 'public' });
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
  });

  it('packs only its built JavaScript and declarations, its README and package.json', async () => {
    // --ignore-scripts: pack what `pnpm build` made, without prepack's clean rebuild under other tests' feet.
    const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(ROOT, 'packages/client'), env: env() });
    const [pack] = JSON.parse(stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
    const files = pack!.files.map((f) => f.path).sort();
    expect(pack!.name).toBe('@broker/client');
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/client.js', 'dist/client.d.ts']));
    for (const file of files) expect(file).toMatch(/^(README\.md|package\.json|dist\/[\w/-]+\.(js|d\.ts))$/);
  }, 30_000);
});
