/**
 * The broker against a real OpenClaw gateway (test/openclaw): opt-in, run by
 * `pnpm build && pnpm test:openclaw`, never by `pnpm test`. It installs
 * OpenClaw and the Node 24 it needs (about 800 MB) into a cache directory on
 * first use (test/openclaw/install.ts), and starts a gateway that takes tens
 * of seconds to come up on two cores. One file at a time.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/openclaw'],
  testMatch: ['**/*.openclaw.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
