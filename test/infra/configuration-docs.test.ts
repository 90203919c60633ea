import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '@broker/shared/config/schema';
import { proseLines } from '../helpers/markdown';

/**
 * docs/configuration.md documents every key of the config file and every
 * environment variable the processes read, so a field added to the schema or a
 * variable added to a config.ts cannot ship undocumented.
 *
 * The convention the page follows (and this test reads):
 * - Only table rows count. The backticked names in a row's first cell are the
 *   paths that row documents: `a.b`, arrays as `agents[]`, a map's key as
 *   `<anything>` (`integrations.<name>`, `webhooks.<source>`).
 * - A name starting with `.` continues the last absolute name in the same table
 *   (`integrations.<name>.baseUrl`, then `.auth`); a later `.name` in the same
 *   cell continues the cell's first name (`.tools[].async.referencePath`,
 *   `.deadlineMs`).
 * - A key without a row of its own is documented by the row of its nearest
 *   documented ancestor when that row names it (and every key in between) inside
 *   backticks: the `.retry` row's `{attempts, baseDelayMs, maxDelayMs}`.
 * - An environment variable is documented by a row whose first cell names it in
 *   backticks.
 */

const ROOT = join(__dirname, '../..');
const PAGE = join(ROOT, 'docs/configuration.md');

type Path = string[];
const ARRAY = '[]';
const MAP_KEY = '<>';
const show = (path: Path) =>
  path
    .map((segment, i) => (segment === ARRAY ? ARRAY : i === 0 ? segment : `.${segment}`))
    .join('')
    .replace(/\.<>/g, '.<name>');

/** The parts of a zod 4 definition this walk reads. */
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  in?: Schema;
  left?: Schema;
  right?: Schema;
  getter?: () => Schema;
}
interface Schema {
  _zod: { def: unknown };
}

/** Every key path of a schema, leaves only (an object's path is implied by its keys'). */
function keyPaths(schema: Schema, prefix: Path = [], out = new Map<string, Path>(), seen = new Set<Schema>()): Map<string, Path> {
  const def = schema._zod.def as Def;
  // A list or map of scalars is documented as the field itself: `agents[].scopes`, `.tools[].input`.
  const leaf = () => {
    let end = prefix.length;
    while (end > 0 && (prefix[end - 1] === ARRAY || prefix[end - 1] === MAP_KEY)) end--;
    if (end > 0) out.set(show(prefix.slice(0, end)), prefix.slice(0, end));
  };
  if (seen.has(schema)) return out;
  switch (def.type) {
    case 'object': {
      const entries = Object.entries(def.shape ?? {});
      if (entries.length === 0) leaf();
      for (const [key, child] of entries) keyPaths(child, [...prefix, key], out, new Set([...seen, schema]));
      return out;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return keyPaths(def.innerType!, prefix, out, seen);
    case 'array':
      return keyPaths(def.element!, [...prefix, ARRAY], out, seen);
    case 'record':
      return keyPaths(def.valueType!, [...prefix, MAP_KEY], out, seen);
    case 'union': {
      const before = out.size;
      for (const option of def.options ?? []) keyPaths(option, prefix, out, seen);
      // A union of scalars (or of `false` and an object with no keys) is a leaf itself.
      if (out.size === before) leaf();
      return out;
    }
    case 'pipe':
      return keyPaths(def.in!, prefix, out, seen);
    case 'intersection':
      keyPaths(def.left!, prefix, out, seen);
      return keyPaths(def.right!, prefix, out, seen);
    case 'lazy':
      return keyPaths(def.getter!(), prefix, out, seen);
    default:
      leaf();
      return out;
  }
}

/** A documented name as a path: `integrations.<name>.tools[].async` → integrations, <>, tools, [], async. */
function parseName(name: string): Path {
  return [...name.replace(/<[^>]*>/g, MAP_KEY).matchAll(/\[\]|[^.[\]]+/g)].map((match) => match[0]);
}

interface Row {
  /** The backticked names of the first cell, as written. */
  names: string[];
  /** The paths they document, relative names resolved. */
  paths: Path[];
  /** Every word inside the row's code spans. */
  words: Set<string>;
}

const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

function tableRows(markdown: string): { rows: Row[]; unresolved: string[] } {
  const rows: Row[] = [];
  const unresolved: string[] = [];
  let context: Path | undefined;
  for (const line of proseLines(markdown)) {
    if (!line.trimStart().startsWith('|')) {
      context = undefined; // a new table starts afresh
      continue;
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/);
    const first = cells[0] ?? '';
    if (/^\s*:?-{3,}/.test(first)) continue; // the |---| line
    const names = codeSpans(first);
    const paths: Path[] = [];
    let cellBase: Path | undefined;
    names.forEach((name, i) => {
      let path: Path;
      if (!name.startsWith('.')) {
        path = parseName(name);
        if (i === 0) context = path.slice(0, -1);
      } else {
        const base = i === 0 ? context : cellBase;
        if (base === undefined) {
          unresolved.push(name);
          return;
        }
        path = [...base, ...parseName(name.slice(1))];
      }
      if (i === 0) cellBase = path.slice(0, -1);
      paths.push(path);
    });
    const words = new Set(codeSpans(line).flatMap((span) => span.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []));
    rows.push({ names, paths, words });
  }
  return { rows, unresolved };
}

/** The key paths the page fails to document. */
function undocumentedKeys(keys: Path[], rows: Row[]): string[] {
  const documented = new Map<string, Set<string>>(); // path → the words of every row documenting it
  for (const row of rows) {
    for (const path of row.paths) {
      const key = show(path);
      const words = documented.get(key) ?? new Set<string>();
      for (const word of row.words) words.add(word);
      documented.set(key, words);
    }
  }
  return keys
    .filter((path) => {
      for (let length = path.length; length > 0; length--) {
        const words = documented.get(show(path.slice(0, length)));
        if (!words) continue;
        return !path.slice(length).every((segment) => segment === ARRAY || segment === MAP_KEY || words.has(segment));
      }
      return true;
    })
    .map(show);
}

/** The files that read the environment: each app's config.ts and the readers it hands `env` to. */
const APP_CONFIGS = readdirSync(join(ROOT, 'apps'))
  .map((app) => `apps/${app}/src/config.ts`)
  .filter((file) => existsSync(join(ROOT, file)));
const ENV_READERS = ['packages/tools/src/secrets/settings.ts', 'packages/redis/src/sentinel.ts', 'packages/tools/src/http/upstream-agents.ts'];
const source = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** `env.NAME`, `env['NAME']`, `process.env.NAME`, and the egress reader's `read('NAME')`. */
function variablesIn(text: string): string[] {
  const patterns = [/\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g, /\bread\(\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!));
}

const markdown = readFileSync(PAGE, 'utf8');
const { rows, unresolved } = tableRows(markdown);
const keys = [...keyPaths(configSchema as unknown as Schema).values()];

describe('the convention this test reads', () => {
  it('resolves relative names and lets an ancestor row name its keys', () => {
    const page = [
      '| field | meaning |',
      '|---|---|',
      '| `agents[].id`, `.key` | an agent: `{"secret"}` |',
      '| `integrations.<name>.baseUrl` | where |',
      '| `.retry` | `{attempts, baseDelayMs}` |',
      '| `.tools[].async.referencePath`, `.deadlineMs` | … |',
    ].join('\n');
    const parsed = tableRows(page);
    expect(parsed.unresolved).toEqual([]);
    expect(parsed.rows.flatMap((row) => row.paths.map(show))).toEqual([
      'agents[].id',
      'agents[].key',
      'integrations.<name>.baseUrl',
      'integrations.<name>.retry',
      'integrations.<name>.tools[].async.referencePath',
      'integrations.<name>.tools[].async.deadlineMs',
    ]);
    const candidates = ['agents[].key.secret', 'agents[].key.sha256', 'integrations.<x>.retry.attempts', 'integrations.<x>.retry.maxDelayMs', 'integrations.<x>.concurrency'].map(
      parseName,
    );
    expect(undocumentedKeys(candidates, parsed.rows)).toEqual(['agents[].key.sha256', 'integrations.<name>.retry.maxDelayMs', 'integrations.<name>.concurrency']);
  });

  it('walks the schema into maps, arrays, unions and transforms', () => {
    const shown = keys.map(show);
    expect(keys.length).toBeGreaterThan(100);
    for (const key of [
      'integrations.<name>.retry.attempts',
      'integrations.<name>.auth.tokenAuthMethod',
      'integrations.<name>.adaptiveRateLimit.floor',
      'agents[].scopes',
      'agents[].key.sha256',
      'webhooks.<name>.secret',
      'approvals[].when.gte',
      'mcp.authorizationServer.issuer',
      'durability',
    ]) {
      expect(shown).toContain(key);
    }
  });
});

describe('docs/configuration.md', () => {
  it('uses no relative name (`.field`) before an absolute one in its table', () => {
    expect(unresolved).toEqual([]);
  });

  it('documents every key of the config file', () => {
    expect(undocumentedKeys(keys, rows)).toEqual([]);
  });

  it('documents no key the config file does not have', () => {
    // Rows of the config table (their first name starts at a top-level key); a renamed key leaves no stale row.
    const topLevel = new Set(keys.map((path) => path[0]));
    const known = new Set(keys.flatMap((path) => path.map((_, i) => show(path.slice(0, i + 1)))));
    const stale = rows.flatMap((row) => row.paths).filter((path) => topLevel.has(path[0]!) && !known.has(show(path)));
    expect(stale.map(show)).toEqual([]);
  });

  it('documents every environment variable the processes read', () => {
    const documented = new Set(rows.flatMap((row) => row.names));
    const read = new Set([...APP_CONFIGS, ...ENV_READERS].flatMap((file) => variablesIn(source(file))));
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('scans every reader an app hands its environment to', () => {
    // A new `somethingFromEnv(env)` in a config.ts must be added to ENV_READERS, or its variables go unchecked.
    const called = new Set(APP_CONFIGS.flatMap((file) => [...source(file).matchAll(/\b(\w+FromEnv)\(/g)].map((match) => match[1]!)));
    const defined = new Set(ENV_READERS.flatMap((file) => [...source(file).matchAll(/export function (\w+FromEnv)\(/g)].map((match) => match[1]!)));
    expect([...called].filter((name) => !defined.has(name))).toEqual([]);
    expect(APP_CONFIGS.length).toBeGreaterThanOrEqual(4);
    const read = [...APP_CONFIGS, ...ENV_READERS].flatMap((file) => variablesIn(source(file)));
    for (const name of ['BROKER_CONFIG', 'SECRETS_DIR', 'REDIS_SENTINELS', 'NO_PROXY', 'SANDBOX_PORT']) expect(read).toContain(name);
  });
});
