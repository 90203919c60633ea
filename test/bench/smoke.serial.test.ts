import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/processes';
import { REDIS_URL } from '../helpers/redis';

/**
 * `pnpm bench` with tiny counts, so the benchmark cannot rot. It checks that
 * every scenario runs and reports, never how fast: timing is for the real run.
 */
it('runs every benchmark scenario and writes the report', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const child = spawn(process.execPath, [join(ROOT, 'bench/run.mjs'), '--quick', '--out', out], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect({ code, output }).toMatchObject({ code: 0 });

  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
  const s = results.scenarios;
  expect(Object.keys(s).sort()).toEqual(['drain', 'footprint', 'ingest', 'latency', 'limiter', 'scale', 'submit']);
  for (const key of ['submit', 'ingest']) {
    expect(s[key].c10.oursRps).toBeGreaterThan(0);
    expect(s[key].c100.bareRps).toBeGreaterThan(0);
  }
  expect(s.drain.oursJobsPerSec).toBeGreaterThan(0);
  expect(s.drain.recordedJobsPerSec).toBeGreaterThan(0);
  expect(s.latency.oursP50Ms).toBeGreaterThan(0);
  // The limiter's correctness bound holds even in the smoke run; its utilisation is not judged here.
  expect(s.limiter.busiestWindow).toBeLessThanOrEqual(s.limiter.limitPerSec);
  expect(s.scale.rows.length).toBeGreaterThan(0);
  expect(s.footprint.redisBytes.perIdempotencyKey).toBeGreaterThan(0);
  // A stored event holds at least its raw body; its dedupe key is part of it.
  expect(s.footprint.redisBytes.perEvent).toBeGreaterThan(300);
  expect(s.footprint.redisBytes.perEventDedupeKey).toBeGreaterThan(0);
  expect(s.footprint.redisBytes.perEventDedupeKey).toBeLessThan(s.footprint.redisBytes.perEvent);
  expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('| submit req/s, 10 conn |');
  expect(readFileSync(join(out, 'latest.md'), 'utf8')).toMatch(/Drain reference \(not a target\): .* \d+(\.\d+)? jobs\/s/);
  expect(readFileSync(join(out, 'latest.md'), 'utf8')).toMatch(/\d+ B per stored webhook event with its dedupe key/);
  expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toContain('<svg');
}, 180_000);
