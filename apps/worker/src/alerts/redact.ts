/**
 * The shape of a value without its contents, for alerts about schema drift:
 * strings, numbers and booleans become their type, so an operator sees which
 * fields came and how they look, and no customer data leaves the broker.
 */
export function redactSample(value: unknown, depth = 0): unknown {
  if (value === null) return null;
  if (typeof value === 'string') return '<string>';
  if (typeof value === 'number') return Number.isInteger(value) ? '<integer>' : '<number>';
  if (typeof value === 'boolean') return '<boolean>';
  if (typeof value !== 'object') return `<${typeof value}>`;
  if (depth >= 6) return Array.isArray(value) ? '<array>' : '<object>';
  if (Array.isArray(value)) {
    const shown = value.slice(0, 3).map((item) => redactSample(item, depth + 1));
    return value.length > 3 ? [...shown, `<${value.length - 3} more>`] : shown;
  }
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [key, item] of entries.slice(0, 50)) out[key.slice(0, 100)] = redactSample(item, depth + 1);
  if (entries.length > 50) out['<more keys>'] = entries.length - 50;
  return out;
}
