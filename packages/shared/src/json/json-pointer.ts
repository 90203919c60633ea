/**
 * Reads an RFC 6901 JSON pointer ("" is the whole value, "/data/0" the first
 * of `data`). Own properties only, so a pointer like "/constructor" finds
 * nothing rather than Object.prototype's. The config schema checks the syntax.
 */
export function readJsonPointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  let current: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    if (current === null || typeof current !== 'object') return undefined;
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      // RFC 6901 §4: an index is digits without a leading zero; "-" (past the end) never exists.
      if (!/^(?:0|[1-9]\d*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else {
      if (!Object.hasOwn(current, token)) return undefined;
      current = (current as Record<string, unknown>)[token];
    }
  }
  return current;
}
