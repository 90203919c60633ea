// ESLint flat config (ESLint 10, typescript-eslint 8). `pnpm lint` runs it with `prettier --check .`.
//
// Rules are the syntax-only ones (no type information): a full type-aware run costs a
// TypeScript program per package, and `pnpm typecheck` already runs the compiler.
//
// The second half turns the house rules in STYLE.md into import boundaries with core
// `no-restricted-imports` / `no-restricted-syntax`, one config object per area. In a flat
// config a later object that sets a rule replaces its options, so each area gets the whole
// list it needs from `boundaries()` rather than stacking objects.
import path from 'node:path';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The globals of the Node that runs ESLint (process, fetch, URL, structuredClone, ...), for
// `no-undef` in the .mjs files; the repo has no `globals` package and needs none.
const nodeGlobals = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly']));

// ---- Import boundaries (STYLE.md house rules 1-6) -------------------------------------------

const APPS = ['@broker/api', '@broker/worker', '@broker/cli', '@broker/sandbox'];

/** Rule 5: no deep imports into a workspace package; use its `exports` subpaths. */
const deepImport = {
  regex: '^@broker/[^/]+/(src|dist)(/|$)',
  message: 'House rule 5: no deep imports into a workspace package; import its package name or an `exports` subpath.',
};

/** Rules 1, 2: a relative path that climbs out of its package (into apps/, packages/, test/, another src/ or dist/). */
const relativeEscape = {
  regex: '^(\\.\\./)+(.*/)?(apps|packages|test|bench|scripts|src|dist)(/|$)',
  message: 'House rules 1-2: a package imports other workspace packages by name, never by a relative path out of its own directory.',
};

/**
 * Rules 1, 2, the general case: a relative import in apps/<x>/src or packages/<x>/src whose
 * target resolves outside apps/<x> or packages/<x>. `relativeEscape` is a pattern on the
 * specifier and cannot know how deep the importing file sits, so `../../shared` from
 * packages/tools/src/x.ts slips past it; this rule resolves the path against the file.
 * It sees the same forms as `dynamicBans`: import/export ... from, import(), require(),
 * `import x = require()` and `typeof import()`.
 */
const REPO_ROOT = import.meta.dirname;
const noRelativeEscape = {
  meta: {
    type: 'problem',
    schema: [],
    messages: {
      escape:
        "House rules 1-2: '{{source}}' leaves {{pkg}}; a package imports other workspace packages by name (apps never import apps, @broker/shared imports none, @broker/redis only @broker/shared, @broker/tools only those two), never by a relative path out of its own directory.",
    },
  },
  create(context) {
    const file = path.resolve(context.physicalFilename ?? context.filename);
    const match = /^(apps|packages)\/([^/]+)\/src\//.exec(path.relative(REPO_ROOT, file).split(path.sep).join('/'));
    if (!match) return {};
    const pkg = `${match[1]}/${match[2]}`;
    const pkgDir = path.join(REPO_ROOT, match[1], match[2]);
    const check = (node) => {
      const source = node?.type === 'Literal' ? node.value : node?.type === 'TemplateLiteral' && node.expressions.length === 0 ? node.quasis[0].value.cooked : undefined;
      if (typeof source !== 'string' || !/^\.\.?(\/|$)/.test(source)) return;
      const rel = path.relative(pkgDir, path.resolve(path.dirname(file), source));
      if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) context.report({ node, messageId: 'escape', data: { source, pkg } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      TSExternalModuleReference: (node) => check(node.expression),
      TSImportType: (node) => check(node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require') check(node.arguments[0]);
      },
    };
  },
};
const brokerPlugin = { rules: { 'no-relative-escape': noRelativeEscape } };

/** Rule 2: nothing imports test/. */
const testImport = { name: '@broker/test', message: 'House rule 2: nothing imports test/.' };

const appImports = (message) => APPS.map((name) => ({ name, message }));

/** Rule 6: only each app's config.ts reads process.env. */
const ENV_MESSAGE = "House rule 6: only an app's config.ts reads process.env; take a plain settings object instead.";
const processEnvSyntax = [
  "MemberExpression[object.name='process'][property.name='env']",
  "MemberExpression[object.name='process'][property.value='env']",
  "VariableDeclarator[init.name='process'] > ObjectPattern > Property[key.name='env']",
  // `globalThis.process.env` and `global.process.env`, dotted or computed, read or destructured.
  ...['name', 'value'].flatMap((p) =>
    ['name', 'value'].map((e) => `MemberExpression[property.${e}='env'][object.object.name=/^(globalThis|global)$/][object.property.${p}='process']`),
  ),
  ...['name', 'value'].map((p) => `VariableDeclarator[init.object.name=/^(globalThis|global)$/][init.property.${p}='process'] > ObjectPattern > Property[key.name='env']`),
].map((selector) => ({ selector, message: ENV_MESSAGE }));
const processEnvImport = ['node:process', 'process'].map((name) => ({
  name,
  importNames: ['env'],
  message: ENV_MESSAGE,
}));

/**
 * `no-restricted-imports` sees static `import`/`export ... from`; the same bans are applied to
 * `import('...')`, `require('...')`, `import x = require('...')` and `typeof import('...')`
 * through `no-restricted-syntax`.
 */
function dynamicBans(paths, patterns) {
  const sources = [
    ...paths.map((p) => ({ regex: `^${p.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, message: p.message })),
    ...patterns.map((p) => ({ regex: p.regex, message: p.message })),
  ];
  return sources.flatMap(({ regex, message }) => {
    // esquery ends a regex literal at the first '/', escaped or not: spell it \x2F.
    const re = regex.replace(/\\\//g, '/').replace(/\//g, '\\x2F');
    return [
      { selector: `ImportExpression > Literal.source[value=/${re}/]`, message },
      { selector: `CallExpression[callee.name='require'] > Literal.arguments[value=/${re}/]`, message },
      { selector: `TSExternalModuleReference > Literal[value=/${re}/]`, message },
      { selector: `TSImportType Literal[value=/${re}/]`, message },
    ];
  });
}

/**
 * The two boundary rules for one area.
 * @param {{paths?: object[], patterns?: object[], env?: boolean}} area `env: true` allows process.env.
 */
function boundaries({ paths = [], patterns = [], env = false }) {
  const allPaths = [testImport, ...paths, ...(env ? [] : processEnvImport)];
  const allPatterns = [deepImport, ...patterns];
  return {
    'no-restricted-imports': ['error', { paths: allPaths, patterns: allPatterns }],
    'no-restricted-syntax': [
      'error',
      ...(env ? [] : processEnvSyntax),
      ...dynamicBans(
        allPaths.filter((p) => !p.importNames),
        allPatterns,
      ),
    ],
  };
}

const appArea = (self, extra = {}) => ({
  paths: [
    ...appImports(`House rule 1: apps never import apps; api and worker meet only in Redis, through @broker/shared and @broker/redis.`).filter((p) => p.name !== self),
    ...(extra.paths ?? []),
  ],
  patterns: [relativeEscape, ...(extra.patterns ?? [])],
});

/** Rule 4: the api imports tool schemas (catalogue/descriptors), not implementations. */
const apiTools = {
  paths: [
    {
      name: '@broker/tools',
      message:
        'House rule 4: the api imports tool schemas, not implementations: use @broker/tools/catalogue or @broker/tools/descriptors (or /http, /oauth, /oauth/<file>, /secrets/<file> for the client layer).',
    },
  ],
  patterns: [
    {
      regex: '^@broker/tools/(?!((catalogue|descriptors|http|oauth)$|(oauth|secrets)/[\\w-]+$))',
      message: 'House rule 4: the api may import only @broker/tools/catalogue, /descriptors, /http, /oauth, /oauth/<file> and /secrets/<file>.',
    },
  ],
};

const sharedArea = {
  patterns: [
    { regex: '^@broker/', message: 'House rule 2: @broker/shared is the leaf; it imports no workspace package.' },
    { regex: '^(ioredis|bullmq)(/|$)', message: 'House rule 2: @broker/shared is the contract; Redis clients and stores live in @broker/redis.' },
    relativeEscape,
  ],
};

const redisArea = {
  // Rule 3 reaches here too: tools use these stores, and a tool knows nothing of Express or BullMQ.
  paths: ['express', 'bullmq'].map((name) => ({ name, message: 'House rule 3: @broker/redis is used by the tools, which know nothing of Express or BullMQ.' })),
  patterns: [
    { regex: '^@broker/(?!shared/)', message: 'House rule 2: @broker/redis imports only @broker/shared.' },
    { regex: '^(express|bullmq)/', message: 'House rule 3: @broker/redis is used by the tools, which know nothing of Express or BullMQ.' },
    relativeEscape,
  ],
};

const toolsArea = {
  paths: ['express', 'bullmq'].map((name) => ({
    name,
    message: 'House rule 3: tools know nothing of Express or BullMQ; a tool is (input, ctx) => output.',
  })),
  patterns: [
    {
      regex: '^@broker/(?!(shared|redis)/)',
      message: 'House rule 2: @broker/tools imports only @broker/shared and @broker/redis.',
    },
    { regex: '^(express|bullmq)/', message: 'House rule 3: tools know nothing of Express or BullMQ.' },
    relativeEscape,
  ],
};

const clientArea = {
  patterns: [{ regex: '^@broker/', message: '@broker/client is published on its own: it speaks HTTP only and imports no workspace package.' }, relativeEscape],
};

const APP_CONFIG = 'apps/*/src/config.ts';

export default defineConfig(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**', 'bench/results/**', 'test/pacts/**'],
  },
  {
    files: ['apps/*/src/**/*.{ts,mjs}', 'packages/*/src/**/*.{ts,mjs}', 'test/**/*.{ts,mjs}', 'bench/**/*.{ts,mjs}', 'scripts/**/*.mjs', '*.{js,mjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: nodeGlobals },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `const { secret: _secret, ...rest } = x` is how the code drops a field from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      // `let server; const x = make(() => server!.use()); server = ...` wires a callback to an object made after it.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Beyond the recommended sets: cheap syntax checks for real bugs. Left out on purpose:
      // no-promise-executor-return (`new Promise((r) => server.close(r))` is the house idiom),
      // no-unmodified-loop-condition (flags `while (running)` loops stopped from a callback),
      // no-template-curly-in-string (tests assert literal `${VAR}` in compose files).
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-throw-literal': 'error',
      'no-self-compare': 'error',
      'no-unreachable-loop': 'error',
      'no-constructor-return': 'error',
      'array-callback-return': 'error',
      // The code already marks type-only imports; keeps swc/isolatedModules from loading a module for a type.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-new-wrappers': 'error',
      'no-caller': 'error',
      'no-eval': 'error',
      'no-implied-eval': 'error',
      radix: 'error',
    },
  },

  {
    // jest's config files: CommonJS, loaded by jest itself.
    files: ['*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },

  // ---- boundaries, one object per area ----
  { files: ['apps/*/src/**/*.{ts,mjs}', 'packages/*/src/**/*.{ts,mjs}'], plugins: { broker: brokerPlugin }, rules: { 'broker/no-relative-escape': 'error' } },
  { files: ['apps/api/src/**'], ignores: [APP_CONFIG], rules: boundaries(appArea('@broker/api', apiTools)) },
  { files: ['apps/api/src/config.ts'], rules: boundaries({ ...appArea('@broker/api', apiTools), env: true }) },
  ...['worker', 'cli', 'sandbox'].flatMap((app) => [
    { files: [`apps/${app}/src/**`], ignores: [APP_CONFIG], rules: boundaries(appArea(`@broker/${app}`)) },
    { files: [`apps/${app}/src/config.ts`], rules: boundaries({ ...appArea(`@broker/${app}`), env: true }) },
  ]),
  { files: ['packages/shared/src/**'], rules: boundaries(sharedArea) },
  { files: ['packages/redis/src/**'], rules: boundaries(redisArea) },
  { files: ['packages/tools/src/**'], rules: boundaries(toolsArea) },
  { files: ['packages/client/src/**'], rules: boundaries(clientArea) },
  // test/ and bench/ drive the apps from outside, so they may import any app and read
  // process.env (Redis URLs, timeouts, opt-in suites). They may not deep-import a package
  // by name; test/unit reaches into apps/api/src by relative path for pure helpers.
  { files: ['test/**'], rules: boundaries({ env: true }) },
  {
    files: ['bench/**'],
    rules: boundaries({ env: true, patterns: [{ regex: '^(\\.\\./)+test(/|$)', message: 'House rule 2: nothing imports test/.' }] }),
  },
);
