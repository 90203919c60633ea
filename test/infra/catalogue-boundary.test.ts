import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseConfig } from '@broker/shared/config/load';
import { builtinIntegrations, createToolRegistry } from '@broker/tools';
import { builtinDescriptors, createCatalogue, type ToolDescriptor } from '@broker/tools/descriptors';
import { ROOT } from '../helpers/processes';
import { builtinIntegrationConfig } from '../kit';

/**
 * House rule 4: the api imports tool *descriptors* (`@broker/tools/descriptors`),
 * never their implementations. A type-only import is erased, and a barrel
 * re-export can hide the one module that drags a whole SDK in, so reading the
 * sources is not enough: this starts the built api (`apps/api/dist/main.js`,
 * so run `pnpm build` first) in a child process without BROKER_CONFIG. It
 * loads every module of its static import graph, then refuses to start before
 * touching Redis or a port; on exit the child writes `require.cache` with each
 * module's importees, and the test walks that graph.
 */

interface LoadedModule {
  id: string;
  children: string[];
}

const API_MAIN = join(ROOT, 'apps/api/dist/main.js');

/** Runs in the child: records every loaded CommonJS module when the process exits (main's `process.exit(1)`). */
const PROBE = `
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  const modules = Object.values(require.cache).map((m) => ({ id: m.filename, children: m.children.map((c) => c.filename) }));
  writeFileSync(process.env.PROBE_OUT, JSON.stringify(modules));
});
require(process.env.PROBE_ENTRY);
`;

function loadApiMain(): { modules: LoadedModule[]; status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'broker-boundary-'));
  try {
    const out = join(dir, 'modules.json');
    const child = spawnSync(process.execPath, ['-e', PROBE], {
      // No BROKER_CONFIG: main() reports it and exits before any connection.
      env: { PATH: process.env.PATH ?? '', PROBE_ENTRY: API_MAIN, PROBE_OUT: out },
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { modules: JSON.parse(readFileSync(out, 'utf8')) as LoadedModule[], status: child.status, stderr: child.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rel = (file: string) => relative(ROOT, file);

/** The first import chain from main.js to `target`: "apps/api/dist/main.js → apps/api/dist/app.js → …". */
function chainTo(modules: LoadedModule[], target: string): string {
  const children = new Map(modules.map((m) => [m.id, m.children]));
  const from = new Map<string, string>([[API_MAIN, '']]);
  const queue = [API_MAIN];
  while (queue.length > 0 && !from.has(target)) {
    const id = queue.shift()!;
    for (const child of children.get(id) ?? []) {
      if (from.has(child)) continue;
      from.set(child, id);
      queue.push(child);
    }
  }
  if (!from.has(target)) return rel(target);
  const chain = [target];
  while (from.get(chain[0]!)) chain.unshift(from.get(chain[0]!)!);
  return chain.map(rel).join(' → ');
}

/** What only the worker may load, by where it lives on disk (pnpm's real paths: `node_modules/.pnpm/<pkg>@<v>/node_modules/<pkg>/…`). */
const WORKER_ONLY: { what: string; file: RegExp; allowedImporters?: RegExp }[] = [
  {
    what: 'the Stripe SDK',
    file: /\/node_modules\/stripe\//,
    // The api's own use: it verifies Stripe-Signature with the SDK's webhooks.constructEvent (apps/api/src/webhooks/stripe.ts).
    allowedImporters: /^apps\/api\/dist\/webhooks\/stripe\.js$/,
  },
  { what: 'graphql', file: /\/node_modules\/graphql\// },
  { what: 'the pagination code', file: /\/packages\/tools\/(src|dist)\/pagination\// },
  // Every built-in implementation is made with it (implementTool / defineTool), and the worker's registry pairs them.
  { what: 'a tool implementation', file: /\/packages\/tools\/dist\/(define-tool|registry|builtin\/index|declared\/declared-tool)\.js$/ },
];

/** One line per kind of module the api must not load but did: how many, which modules brought it in, and the first chain to one. */
function violations(modules: LoadedModule[]): string[] {
  const found: string[] = [];
  for (const rule of WORKER_ONLY) {
    const hits = new Set(modules.filter((m) => rule.file.test(m.id)).map((m) => m.id));
    // Modules outside the forbidden set that import into it: the doors through which it came in.
    const doors = modules.filter((m) => !hits.has(m.id) && m.children.some((c) => hits.has(c)) && !rule.allowedImporters?.test(rel(m.id)));
    if (doors.length === 0) continue;
    const first = doors.map((door) => `${chainTo(modules, door.id)} → ${rel(door.children.find((c) => hits.has(c))!)}`).sort((a, b) => a.length - b.length)[0];
    found.push(`${rule.what}: ${hits.size} modules, imported by ${doors.map((d) => rel(d.id)).join(', ')}; e.g. ${first}`);
  }
  return found;
}

describe('the api process', () => {
  let loaded: ReturnType<typeof loadApiMain>;
  beforeAll(() => {
    loaded = loadApiMain();
  });

  it('loads its whole entry module, then stops for want of BROKER_CONFIG (the probe saw the real startup graph)', () => {
    expect(loaded.stderr).toMatch(/BROKER_CONFIG: required/);
    expect(loaded.status).toBe(1);
    const ids = loaded.modules.map((m) => rel(m.id));
    expect(ids).toEqual(expect.arrayContaining(['apps/api/dist/main.js', 'apps/api/dist/app.js', 'packages/tools/dist/descriptors.js']));
  });

  it('loads tool descriptors only: no Stripe SDK (but for its webhook check), graphql, pagination or implementation', () => {
    expect(violations(loaded.modules)).toEqual([]);
  });
});

describe('descriptors and implementations', () => {
  const config = parseConfig({
    integrations: {
      ...Object.fromEntries((['stripe', 'hubspot', 'shopify'] as const).map((n) => [n, builtinIntegrationConfig(n, 'http://127.0.0.1:1')])),
      // The file's version wins over the pinned one in both.
      github: builtinIntegrationConfig('github', 'http://127.0.0.1:1', { apiVersion: { value: '2099-01-01', header: 'X-GitHub-Api-Version' } }),
      demo: {
        baseUrl: 'http://127.0.0.1:1',
        auth: { type: 'none' },
        tools: [
          {
            name: 'demo.get',
            method: 'GET',
            path: '/things/{id}',
            description: 'a declared tool',
            input: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
          },
        ],
      },
    },
  });
  const described = (tool: ToolDescriptor) => ({
    name: tool.name,
    integration: tool.integration,
    description: tool.description,
    idempotent: tool.idempotent,
    write: tool.write,
    apiVersion: tool.apiVersion,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
    validation: [{}, { id: 'pi_1' }, { amount: 0, currency: 'usd', extra: 1 }].map((input) => tool.validateInput(input)),
  });

  it("are one: the api's catalogue describes every tool exactly as the worker's registry does", () => {
    const catalogue = createCatalogue(config).list();
    expect(catalogue.map(described)).toEqual(createToolRegistry(config).list().map(described));
    expect(catalogue.find((t) => t.name === 'github.getIssue')!.apiVersion).toBe('2099-01-01');
    // Descriptors only: nothing that runs.
    expect(catalogue.filter((t) => 'run' in t)).toEqual([]);
  });

  it('pair by name: every built-in description has its implementation, and no implementation lacks one', () => {
    const names = (byIntegration: Record<string, readonly { name: string }[]>) =>
      Object.fromEntries(Object.entries(byIntegration).map(([integration, tools]) => [integration, tools.map((t) => t.name)]));
    const implemented = Object.fromEntries(Object.entries(builtinIntegrations).map(([integration, tools]) => [integration, tools.map((make) => make(null))]));
    expect(names(implemented)).toEqual(names(builtinDescriptors));
  });
});
