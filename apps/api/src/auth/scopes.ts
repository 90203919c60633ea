/**
 * Scope grammar (docs/api.md#scopes): `tools:<glob>`, where `*` matches any run of
 * characters, dots included, so `tools:demo.*` grants every demo tool and
 * `tools:*` every tool. Other scopes (`events:read`, …) are kept for other
 * endpoints and ignored here.
 */
const TOOL_SCOPE = 'tools:';

/** `*` matches any run of characters (dots included), everything else literally; shared with the daily job caps. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Compiles an agent's scopes once, at start; the result answers "may this agent call tool X?". */
export function compileToolScopes(scopes: readonly string[]): (tool: string) => boolean {
  const patterns = scopes.filter((s) => s.startsWith(TOOL_SCOPE)).map((s) => globToRegExp(s.slice(TOOL_SCOPE.length)));
  return (tool) => patterns.some((p) => p.test(tool));
}

/**
 * Compiles an agent's `connections` (`"<integration>/<connection glob>"`) once,
 * at start; the result answers "may this agent act with connection C of
 * integration I?". Without the list, every connection.
 */
export function compileConnections(connections: readonly string[] | undefined): (integration: string, connection: string) => boolean {
  if (!connections) return () => true;
  const patterns = connections.map((entry) => globToRegExp(entry));
  return (integration, connection) => patterns.some((p) => p.test(`${integration}/${connection}`));
}
