/**
 * Decodes Stripe's `application/x-www-form-urlencoded` bodies, where nesting
 * is written in brackets: `metadata[order]=42`, `items[0][price]=p_1`.
 * Objects whose keys are all indices become arrays.
 */
export function parseForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(/\[|\]\[|\]$/).filter((p, i) => i === 0 || p !== '');
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Record<string, unknown>;
    });
  }
  return arrays(root) as Record<string, unknown>;
}

function arrays(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, arrays(v)] as const);
  if (entries.length > 0 && entries.every(([k], i) => k === String(i))) return entries.map(([, v]) => v);
  return Object.fromEntries(entries);
}

/** Parses a request body by its content type: JSON, a form, or the text itself. */
export function parseBody(body: string, contentType: string | undefined): unknown {
  if (body === '') return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded')) return parseForm(body);
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  return body;
}
