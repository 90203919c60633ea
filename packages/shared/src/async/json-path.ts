/**
 * The small JSON path dialect of async tools and webhook correlation:
 * `$.data.object.id`, `data.items[0].id` or `$` (the whole value). Names are
 * letters, digits, `_` and `-`; `[n]` indexes an array. Nothing else (no
 * wildcards, no filters): a path names exactly one place, so a correlation
 * value or a status is never ambiguous.
 */
export const JSON_PATH_PATTERN = /^(?:\$|[A-Za-z0-9_-]+)(?:\.[A-Za-z0-9_-]+|\[\d+\])*$/;

export type JsonPathStep = string | number;

const cache = new Map<string, JsonPathStep[]>();

/** The steps of a path; throws on a path outside the dialect (config validation rejects those first). */
export function parseJsonPath(path: string): JsonPathStep[] {
  const cached = cache.get(path);
  if (cached) return cached;
  if (!JSON_PATH_PATTERN.test(path)) throw new Error(`not a supported JSON path: "${path}"`);
  const body = path.replace(/^\$/, '');
  const steps: JsonPathStep[] = [];
  for (const match of body.matchAll(/([A-Za-z0-9_-]+)|\[(\d+)\]/g)) {
    steps.push(match[2] !== undefined ? Number(match[2]) : match[1]!);
  }
  if (cache.size < 1000) cache.set(path, steps);
  return steps;
}

/** The value at `path`, or undefined when any step is missing. Own properties only. */
export function readJsonPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const step of parseJsonPath(path)) {
    if (current === null || typeof current !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      if (Array.isArray(current) || !Object.hasOwn(current, step)) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

/**
 * A correlation value as a string: strings as they are, numbers and booleans
 * in their JSON form; objects, arrays, null and absence give undefined (they
 * can never equal a reference).
 */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
