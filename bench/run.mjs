#!/usr/bin/env node
/**
 * `pnpm bench`: every measurement side by side with a bare baseline, on
 * loopback against real Redis. Writes results/latest.json, results/latest.md
 * and results/latest.svg (or to --out DIR). `--quick` runs tiny counts (the
 * test suite's smoke run); `--only a,b` picks scenarios.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, renderSvg } from './src/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const outDir = flag('--out') ?? join(HERE, 'results');

const scenarios = {
  submit: () => import('./src/scenarios/submit.mjs').then((m) => m.submit),
  ingest: () => import('./src/scenarios/ingest.mjs').then((m) => m.ingest),
  drain: () => import('./src/scenarios/drain.mjs').then((m) => m.drain),
  latency: () => import('./src/scenarios/drain.mjs').then((m) => m.latency),
  limiter: () => import('./src/scenarios/limiter.mjs').then((m) => m.limiter),
  scale: () => import('./src/scenarios/scale.mjs').then((m) => m.scale),
  footprint: () => import('./src/scenarios/footprint.mjs').then((m) => m.footprint),
};
const only = flag('--only')?.split(',') ?? Object.keys(scenarios);

const results = {
  startedAt: new Date().toISOString(),
  quick,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
  scenarios: {},
};
for (const name of only) {
  if (!scenarios[name]) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`);
  process.stderr.write(`bench: ${name}…\n`);
  const t0 = performance.now();
  results.scenarios[name] = await (await scenarios[name]())({ quick });
  process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
results.finishedAt = new Date().toISOString();

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
const markdown = renderMarkdown(results);
writeFileSync(join(outDir, 'latest.md'), markdown);
writeFileSync(join(outDir, 'latest.svg'), renderSvg(results));
process.stdout.write(markdown);
process.exit(0);
