/**
 * Chaos tests (test/chaos): the production processes on a private Redis,
 * killed, cut off and restarted on purpose. They run one file at a time,
 * after the other suites, so a kill lands where the test meant it to and the
 * timings they assert are the broker's, not a neighbour's.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['**/*.chaos.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 90_000,
  maxWorkers: 1,
};
