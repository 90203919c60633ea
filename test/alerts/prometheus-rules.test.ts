import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createMetrics } from '@broker/shared/metrics';

/**
 * deploy/prometheus/alerts.yml must only use metrics the broker exports, and
 * only labels those metrics have: a renamed metric would otherwise silence an
 * alert without anyone noticing.
 */
interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = join(__dirname, '../../deploy/prometheus/alerts.yml');
const rules = (parse(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const metrics = createMetrics();
/** Series name → label names (histograms expose _bucket/_sum/_count; prom-client's defaults have no labels we match on). */
const series = new Map<string, readonly string[]>();
for (const metric of metrics.registry.getMetricsAsArray()) {
  const labels = ((metric as unknown as { labelNames?: readonly string[] }).labelNames ?? []) as readonly string[];
  series.set(metric.name, labels);
  for (const suffix of ['_bucket', '_sum', '_count']) series.set(`${metric.name}${suffix}`, [...labels, ...(suffix === '_bucket' ? ['le'] : [])]);
}

/** Each `broker_…` name in an expression with the label names its selector matches on. */
function selectors(expr: string): { name: string; labels: string[] }[] {
  return [...expr.matchAll(/\b(broker_[a-z0-9_]+)\b(\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!,
    labels: [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!),
  }));
}

it('has rules, each named, with an expression, a severity and a summary', () => {
  expect(rules.length).toBeGreaterThanOrEqual(8);
  const names = new Set<string>();
  for (const rule of rules) {
    expect(rule.alert).toMatch(/^Broker[A-Za-z]+$/);
    expect(names.has(rule.alert!)).toBe(false);
    names.add(rule.alert!);
    expect(typeof rule.expr).toBe('string');
    expect(['warning', 'critical']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toBeTruthy();
    const opens = (rule.expr!.match(/\(/g) ?? []).length;
    expect((rule.expr!.match(/\)/g) ?? []).length).toBe(opens);
    if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smhd]$/);
  }
});

it('covers every alert cause the broker raises itself', () => {
  const exprs = rules.map((r) => r.expr!).join('\n');
  for (const metric of [
    'broker_connection_reauth_required_total', // connection_needs_reauth
    'broker_circuit_open_seconds', // circuit_open
    'broker_schema_mismatches_total', // schema_mismatch
    'broker_jobs_failed_total', // job_failure_rate
    'broker_queue_jobs', // dead_letters
    'broker_trigger_deliveries_total', // trigger_delivery_exhausted
    'broker_api_deprecated', // api_deprecation
  ]) {
    expect(exprs).toContain(metric);
  }
});

it.each(rules.map((r) => [r.alert!, r.expr!] as const))('%s uses only metrics and labels that exist', (_name, expr) => {
  const used = selectors(expr);
  expect(used.length).toBeGreaterThan(0);
  for (const { name, labels } of used) {
    expect({ name, exists: series.has(name) }).toEqual({ name, exists: true });
    for (const label of labels) expect({ name, label, known: series.get(name)!.includes(label) }).toEqual({ name, label, known: true });
  }
  // Labels named in `by (...)` must exist on some metric of the expression.
  const all = new Set(used.flatMap((u) => series.get(u.name) ?? []));
  for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const label of m[1]!
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean))
      expect({ label, known: all.has(label) }).toEqual({ label, known: true });
  }
});
