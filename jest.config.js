/**
 * One jest run over every package. Workspace packages resolve to their sources,
 * so tests see the code as written; processes spawned by tests run the built
 * dist/ (root `pnpm test` builds first).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/packages', '<rootDir>/apps'],
  testMatch: ['**/*.test.ts'],
  // Timing-sensitive process-level tests run alone afterwards (jest.serial.config.js, jest.chaos.config.js);
  // the real-OpenClaw test only on request (jest.openclaw.config.js, `pnpm test:openclaw`).
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.serial\\.test\\.ts$', '\\.chaos\\.test\\.ts$', '\\.openclaw\\.test\\.ts$'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
    // jose 6 ships ES modules only. The api loads it with import() (CommonJS under Node), which
    // jest's CommonJS runtime cannot run without transforming it to CommonJS like the sources.
    '/node_modules/jose/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!\\.pnpm/jose@|jose/)'],
  moduleNameMapper: {
    '^@broker/shared/(.*)$': '<rootDir>/packages/shared/src/$1',
    '^@broker/redis/(.*)$': '<rootDir>/packages/redis/src/$1',
    '^@broker/tools/(oauth|secrets)/([\\w-]+)$': '<rootDir>/packages/tools/src/$1/$2',
    '^@broker/tools$': '<rootDir>/packages/tools/src/index.ts',
    '^@broker/tools/descriptors$': '<rootDir>/packages/tools/src/descriptors.ts',
    '^@broker/tools/catalogue$': '<rootDir>/packages/tools/src/catalogue.ts',
    '^@broker/tools/oauth$': '<rootDir>/packages/tools/src/oauth/index.ts',
    '^@broker/tools/http$': '<rootDir>/packages/tools/src/http/index.ts',
    '^@broker/api$': '<rootDir>/apps/api/src/index.ts',
    '^@broker/worker$': '<rootDir>/apps/worker/src/index.ts',
    '^@broker/sandbox$': '<rootDir>/apps/sandbox/src/index.ts',
    '^@broker/client$': '<rootDir>/packages/client/src/index.ts',
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
