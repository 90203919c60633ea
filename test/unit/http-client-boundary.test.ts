import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * One HTTP stack: every outbound request the product makes goes through an
 * axios instance from `createHttpClient` (packages/tools/src/http/http-client.ts),
 * which owns keep-alive, the egress proxy and NO_PROXY, the answer cap and
 * "never follow a redirect". A module that makes its own client (`fetch`, a
 * bare `axios.create`, `node:http`'s `request`, an agent of its own) silently
 * skips all of that, as the Vault reads once skipped the egress proxy. This
 * reads every module's syntax tree and lists each such place.
 */
const ROOT = join(__dirname, '../..');
const HTTP_LAYER = 'packages/tools/src/http/';
const FACTORY = 'packages/tools/src/http/http-client.ts';

/** Whole trees left out, each with its reason. */
const EXEMPT_TREES: Record<string, string> = {
  'packages/client/src/': 'the agent-side typed client: no dependencies by design, it calls an injected (default global) fetch',
  'apps/cli/src/': "the operators' CLI calls the broker's own API, not an upstream; it does not depend on @broker/tools",
};

/** Modules that may use `createServer` from node:http(s), each with its reason: they answer requests, they make none. */
const SERVER_MODULES: Record<string, string> = {
  'apps/sandbox/src/server.ts': "the sandbox's own HTTP server",
  'apps/worker/src/metrics/metrics-server.ts': "the worker's /metrics server",
};

const NODE_HTTP = new Set(['http', 'https', 'http2', 'node:http', 'node:https', 'node:http2']);
/** Members of node:http(s) that send requests or pool their connections. */
const NODE_CLIENT_MEMBERS = new Set(['request', 'get', 'Agent', 'globalAgent', 'ClientRequest', 'connect']);
const NODE_SERVER_MEMBERS = new Set(['createServer', 'createSecureServer', 'Server']);
/** HTTP client libraries other than axios: none belongs in the product. */
const OTHER_CLIENTS = new Set(['undici', 'node-fetch', 'cross-fetch', 'isomorphic-fetch', 'got', 'ky', 'superagent', 'needle', 'request']);
/** Connection agents are the factory's business (its keep-alive pools and proxy tunnels). */
const AGENT_LIBRARIES = new Set(['http-proxy-agent', 'https-proxy-agent', 'socks-proxy-agent', 'proxy-agent', 'agentkeepalive']);
const AXIOS_CALLS = new Set(['create', 'request', 'get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'postForm', 'putForm', 'patchForm']);
const GLOBALS = new Set(['globalThis', 'global', 'window', 'self']);

/** Every place in one module that makes an HTTP client of its own, as `path:line what`. */
function violationsIn(path: string, text: string): string[] {
  const inHttpLayer = path.startsWith(HTTP_LAYER);
  const isFactory = path === FACTORY;
  const isServer = path in SERVER_MODULES;
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const flag = (node: ts.Node, what: string) => found.push(`${path}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${what}`);

  /** May this module use member `name` of node:http(s)? */
  const nodeMemberAllowed = (name: string) =>
    (!NODE_CLIENT_MEMBERS.has(name) && !NODE_SERVER_MEMBERS.has(name)) || (name === 'Agent' && inHttpLayer) || (NODE_SERVER_MEMBERS.has(name) && isServer);

  // A module's own function or parameter named `fetch` (a pagination callback) is not the global.
  let declaresFetch = false;
  const nodeHttpBindings = new Set<string>();
  const collect = (node: ts.Node) => {
    if ((ts.isParameter(node) || ts.isVariableDeclaration(node) || ts.isFunctionDeclaration(node)) && node.name && ts.isIdentifier(node.name) && node.name.text === 'fetch') {
      declaresFetch = true;
    }
    ts.forEachChild(node, collect);
  };
  collect(source);

  const checkModule = (node: ts.Node, module: string, clause: ts.ImportClause | undefined, viaRequire: boolean) => {
    if (clause?.isTypeOnly) return;
    if (OTHER_CLIENTS.has(module)) return flag(node, `imports ${module}`);
    if (AGENT_LIBRARIES.has(module) && !inHttpLayer) return flag(node, `imports ${module}`);
    if (module === 'axios' && !isFactory) {
      if (viaRequire) return flag(node, 'loads axios itself');
      if (clause?.name) return flag(node, 'imports axios itself (default import)');
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) return flag(node, 'imports axios itself (namespace import)');
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) {
          const name = (el.propertyName ?? el.name).text;
          if (!el.isTypeOnly && (name === 'default' || name === 'Axios')) flag(el, `imports axios' ${name}`);
        }
      }
      return;
    }
    if (NODE_HTTP.has(module)) {
      if (viaRequire) return flag(node, `loads ${module}`);
      if (clause?.name) nodeHttpBindings.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) nodeHttpBindings.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) {
          const name = (el.propertyName ?? el.name).text;
          if (!el.isTypeOnly && !nodeMemberAllowed(name)) flag(el, `imports ${name} from ${module}`);
        }
      }
    }
  };

  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      checkModule(node, node.moduleSpecifier.text, node.importClause, false);
    } else if (ts.isImportEqualsDeclaration(node) && !node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference)) {
      const ref = node.moduleReference.expression;
      if (ts.isStringLiteral(ref)) checkModule(node, ref.text, undefined, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const [first] = node.arguments;
      const isLoad = (ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword;
      if (isLoad && first && ts.isStringLiteral(first)) checkModule(node, first.text, undefined, true);
      if (ts.isIdentifier(callee) && callee.text === 'axios' && !isFactory) flag(node, 'calls axios(...)');
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'axios' && AXIOS_CALLS.has(callee.name.text) && !isFactory) {
        flag(node, `calls axios.${callee.name.text}(...)`);
      }
      if (ts.isIdentifier(callee) && callee.text === 'fetch' && !declaresFetch) flag(node, 'calls fetch(...)');
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const owner = node.expression.text;
      if (GLOBALS.has(owner) && node.name.text === 'fetch') flag(node, `uses ${owner}.fetch`);
      if (nodeHttpBindings.has(owner) && !nodeMemberAllowed(node.name.text)) flag(node, `uses ${owner}.${node.name.text}`);
    } else if (ts.isNewExpression(node) && !inHttpLayer) {
      const name = ts.isIdentifier(node.expression) ? node.expression.text : ts.isPropertyAccessExpression(node.expression) ? node.expression.name.text : '';
      if (/Agent$/.test(name)) flag(node, `constructs ${name}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => /\.(ts|mts|cts)$/.test(f) && !f.endsWith('.d.ts') && !f.split(sep).includes('node_modules'))
    .map((f) => relative(ROOT, join(dir, f)).split(sep).join('/'));
}

function productModules(): string[] {
  return ['apps', 'packages'].flatMap((top) =>
    readdirSync(join(ROOT, top), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => sourceFiles(join(ROOT, top, d.name, 'src'))),
  );
}

describe('one HTTP stack: every outbound request goes through createHttpClient', () => {
  it('recognises each way of making an HTTP client of its own', () => {
    const planted = [
      "import axios from 'axios';",
      "import * as ax from 'axios';",
      "import { Axios } from 'axios';",
      "const a = require('axios');",
      'axios.create({});',
      "axios('https://x');",
      "axios.post('https://x', {});",
      "fetch('https://x');",
      "globalThis.fetch('https://x');",
      "import { request as httpRequest } from 'node:http';",
      "import { get } from 'https';",
      "import * as http from 'node:http';\nhttp.request('https://x');",
      "import { Agent } from 'node:https';",
      'new Agent({ keepAlive: true });',
      'new http.Agent();',
      "import { fetch } from 'undici';",
      "import { HttpsProxyAgent } from 'https-proxy-agent';",
      "import { createServer } from 'node:http';",
      "import('node-fetch');",
    ];
    for (const line of planted) expect([line, violationsIn('apps/worker/src/planted.ts', line).length > 0]).toEqual([line, true]);

    const fine = [
      "import type { AxiosInstance } from 'axios';",
      "import { isAxiosError } from 'axios';",
      "import type { IncomingHttpHeaders } from 'node:http';",
      "import { STATUS_CODES, type Server } from 'node:http';",
      "import { createHttpClient } from '@broker/tools';\nconst http = createHttpClient();\nhttp.request({ url: 'https://x' });",
      'ctx.http.request({ method: "GET", path: "/" });',
      'function pages(fetch: () => Promise<void>) { return fetch(); }',
      "this.fetch('https://x');",
    ];
    for (const line of fine) expect([line, violationsIn('apps/worker/src/fine.ts', line)]).toEqual([line, []]);

    // The exemptions are narrow: a server may create a server, the HTTP layer may build agents, and that is all.
    expect(violationsIn('apps/worker/src/metrics/metrics-server.ts', "import { createServer } from 'node:http';")).toEqual([]);
    expect(violationsIn('apps/worker/src/metrics/metrics-server.ts', "import { request } from 'node:http';")).not.toEqual([]);
    expect(violationsIn('packages/tools/src/http/upstream-agents.ts', "import { Agent } from 'node:http';\nnew Agent();")).toEqual([]);
    expect(violationsIn('packages/tools/src/http/transport.ts', "import { request } from 'node:http';")).not.toEqual([]);
    expect(violationsIn('packages/tools/src/http/other.ts', 'axios.create({});')).not.toEqual([]);
    expect(violationsIn(FACTORY, "import axios from 'axios';\naxios.create({});")).toEqual([]);
  });

  it('finds no module, outside the factory, that makes an HTTP client of its own', () => {
    const modules = productModules();
    expect(modules).toContain(FACTORY);
    const found = modules
      .filter((path) => !Object.keys(EXEMPT_TREES).some((tree) => path.startsWith(tree)))
      .flatMap((path) => violationsIn(path, readFileSync(join(ROOT, path), 'utf8')));
    expect(found).toEqual([]);
  });

  it('exempts only files and trees that exist', () => {
    for (const path of [...Object.keys(SERVER_MODULES), ...Object.keys(EXEMPT_TREES)]) expect([path, existsSync(join(ROOT, path))]).toEqual([path, true]);
  });
});
