/** Renders benchmark results as a markdown table and an SVG bar chart of the ratios. */
import { TARGETS } from './lib/targets.mjs';

const fmt = (x) => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(2)) : String(x ?? '—'));

/** One row per comparison: what, ours, bare, ratio, target, whether it is met. */
export function comparisons(results) {
  const s = results.scenarios;
  const rows = [];
  for (const key of ['c10', 'c100']) {
    const r = s.submit?.[key];
    if (r) rows.push({ what: `submit req/s, ${r.connections} conn`, ours: r.oursRps, bare: r.bareRps, ratio: r.ratio, spread: r.ratioSpread, target: TARGETS.submit });
  }
  for (const key of ['c10', 'c100']) {
    const r = s.ingest?.[key];
    if (r) rows.push({ what: `ingest req/s, ${r.connections} conn`, ours: r.oursRps, bare: r.bareRps, ratio: r.ratio, spread: r.ratioSpread, target: TARGETS.ingest });
  }
  if (s.drain)
    rows.push({ what: 'drain jobs/s', ours: s.drain.oursJobsPerSec, bare: s.drain.bareJobsPerSec, ratio: s.drain.ratio, spread: s.drain.ratioSpread, target: TARGETS.drain });
  if (s.latency) {
    rows.push({
      what: `submit→done p50 ms @ ${s.latency.ratePerSec}/s`,
      ours: s.latency.oursP50Ms,
      bare: s.latency.bareP50Ms,
      ratio: s.latency.p50Ratio,
      target: TARGETS.latencyP50,
      lowerIsBetter: true,
    });
  }
  return rows.map((r) => ({ ...r, met: r.lowerIsBetter ? r.ratio <= r.target : r.ratio >= r.target }));
}

export function renderMarkdown(results) {
  const s = results.scenarios;
  const lines = [
    `# Benchmarks${results.quick ? ' (quick smoke run: counts too small to mean anything)' : ''}`,
    '',
    `${results.startedAt}, ${results.machine.cpus} cores (${results.machine.model}), Node ${results.machine.node}. Rounds of ours and the bare baseline alternate; each figure is a median, the ratio is the median of per-round ratios (spread: min–max).`,
    '',
    '| measurement | ours | bare | ratio | spread | target | met |',
    '|---|---:|---:|---:|---|---|---|',
  ];
  for (const r of comparisons(results)) {
    const spread = r.spread ? `${fmt(r.spread.min)}–${fmt(r.spread.max)}` : '';
    lines.push(`| ${r.what} | ${fmt(r.ours)} | ${fmt(r.bare)} | ${fmt(r.ratio)} | ${spread} | ${r.lowerIsBetter ? '≤' : '≥'} ${r.target} | ${r.met ? 'yes' : 'no'} |`);
  }
  if (s.latency) lines.push('', `Latency p99: ours ${fmt(s.latency.oursP99Ms)} ms, bare ${fmt(s.latency.bareP99Ms)} ms.`);
  if (s.drain?.recordedJobsPerSec !== undefined) {
    const d = s.drain;
    lines.push(
      '',
      `Drain reference (not a target): bare BullMQ writing a job record, one HSET before the call and one after it, the least a record agents poll and cancel needs: ${fmt(d.recordedJobsPerSec)} jobs/s, ${fmt(d.recordedRatio)} × bare (spread ${fmt(d.recordedRatioSpread.min)}–${fmt(d.recordedRatioSpread.max)}).`,
    );
  }
  if (s.limiter) {
    const l = s.limiter;
    const met = l.windowsOver <= TARGETS.limiterWindowsOver && l.utilisation >= TARGETS.limiterUtilisation;
    lines.push(
      '',
      `Limiter: ${l.jobs} jobs at ${l.limitPerSec}/s over ${l.workerProcesses} worker processes: ${fmt(l.windowsOver)} sliding 1 s windows over the limit (target ${TARGETS.limiterWindowsOver}; busiest ${l.busiestWindow}, limit ${l.limitPerSec}), utilisation ${fmt(l.utilisation)} (target ≥ ${TARGETS.limiterUtilisation}); met: ${met ? 'yes' : 'no'}.`,
    );
  }
  if (s.scale) {
    lines.push('', '| worker processes | jobs/s | worker CPU % | Redis CPU % |', '|---:|---:|---:|---:|');
    for (const r of s.scale.rows) lines.push(`| ${r.workerProcesses} | ${fmt(r.jobsPerSec)} | ${fmt(r.workerCpuPercentOfOneCore)} | ${fmt(r.redisCpuPercentOfOneCore)} |`);
  }
  if (s.footprint) {
    const f = s.footprint;
    lines.push(
      '',
      `Footprint after ${f.jobs} jobs: RSS api ${fmt(f.rssMb.apiAtRest)} → ${fmt(f.rssMb.apiAfter)} MB, worker ${fmt(f.rssMb.workerAtRest)} → ${fmt(f.rssMb.workerAfter)} MB; Redis ${f.redisBytes.perJobRecordWithIdempotencyKey} B per job record with its idempotency key, ${f.redisBytes.perIdempotencyKey} B per idempotency key${f.redisBytes.perEvent ? `, ${f.redisBytes.perEvent} B per stored webhook event with its dedupe key, ${f.redisBytes.perEventDedupeKey} B per dedupe key` : ''}; growth while retained ${fmt(f.redisBytes.growthWhileRetainedMb)} MB, after retention ${fmt(f.redisBytes.growthAfterRetentionMb)} MB.`,
    );
  }
  return lines.join('\n') + '\n';
}

export function renderSvg(results) {
  const rows = comparisons(results);
  const width = 640;
  const rowHeight = 34;
  const left = 230;
  const scale = (width - left - 60) / 2.5;
  const height = rows.length * rowHeight + 50;
  const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = rows
    .map((r, i) => {
      const y = 30 + i * rowHeight;
      const w = Math.max(1, Math.min(r.ratio, 2.5) * scale);
      const color = r.met ? '#2e7d32' : '#c62828';
      const tx = left + Math.min(r.target, 2.5) * scale;
      return [
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(r.what)}</text>`,
        `<rect x="${left}" y="${y}" width="${w}" height="20" fill="${color}"/>`,
        `<line x1="${tx}" y1="${y - 3}" x2="${tx}" y2="${y + 23}" stroke="#333" stroke-dasharray="3,2"/>`,
        `<text x="${left + w + 4}" y="${y + 15}" font-size="12">${r.ratio}</text>`,
      ].join('');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<text x="10" y="18" font-size="14" font-weight="bold">ours ÷ bare (dashed line: target; latency row: ours p50 ÷ bare p50, lower is better)</text>
${bars}
</svg>
`;
}
