/**
 * Tests that measure timing across processes (sliding windows at a stub, a
 * breaker's quiet period) run one file at a time, after the parallel suite,
 * so they measure the broker and not their neighbours on a 2-core machine.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['**/*.serial.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  maxWorkers: 1,
};
