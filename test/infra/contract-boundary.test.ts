import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/processes';

/**
 * House rule 2: `@broker/shared` is the contract (schemas, codes, queue names,
 * the config schema) that the api, the workers and the CLI agree on; Redis
 * clients, stores and their Lua live in `@broker/redis`. ESLint checks each
 * import as written; this loads every built module of the contract (run
 * `pnpm build` first) in a fresh process and checks what came along.
 */

const SHARED = join(ROOT, 'packages/shared');

/** Each source module's built file: listed from src/, so output left in dist/ by a module since moved away is not counted. */
const builtModules = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? builtModules(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name).replace(`${SHARED}/src/`, `${SHARED}/dist/`).replace(/\.ts$/, '.js')]
        : [],
  );

/** Requires each file, then prints every module in require.cache. */
const PROBE = `
for (const file of JSON.parse(process.env.PROBE_FILES)) require(file);
process.stdout.write(JSON.stringify(Object.keys(require.cache)));
`;

function loadAll(files: string[]): string[] {
  const child = spawnSync(process.execPath, ['-e', PROBE], { env: { PATH: process.env.PATH ?? '', PROBE_FILES: JSON.stringify(files) }, encoding: 'utf8', timeout: 20_000 });
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout) as string[];
}

it('loads no Redis client, no queue library and no other workspace package', () => {
  const files = builtModules(join(SHARED, 'src'));
  // The contract's own areas, so an empty or misplaced src/ cannot pass.
  expect(files.map((f) => relative(join(SHARED, 'dist'), f))).toEqual(
    expect.arrayContaining(['config/schema.js', 'errors/codes.js', 'jobs/schema.js', 'queues.js', 'webhooks/schema.js']),
  );
  const loaded = loadAll(files).map((f) => relative(ROOT, f));
  const outside = loaded.filter((f) => /(^|\/)node_modules\/(ioredis|bullmq)\//.test(f) || /^(apps|packages\/(?!shared\/))/.test(f));
  expect(outside).toEqual([]);
});

it('declares no Redis client among its dependencies', () => {
  const manifest = JSON.parse(readFileSync(join(SHARED, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const declared = ['dependencies', 'peerDependencies', 'optionalDependencies'].flatMap((field) => Object.keys(manifest[field] ?? {}));
  expect(declared).toContain('zod');
  expect(declared.filter((name) => name === 'ioredis' || name === 'bullmq' || name.startsWith('@broker/'))).toEqual([]);
});
