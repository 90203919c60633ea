import { globToRegExp } from './scopes';

const TOOL_SCOPE = 'tools:';

/**
 * Does tool glob `outer` match every tool name that glob `inner` matches?
 * Exactly when `outer`, as a pattern, matches the text of `inner` with its `*`s
 * read as plain characters: `outer`'s literal characters can then only land on
 * `inner`'s literal ones, and `inner`'s `*`s sit inside `outer`'s, which absorb
 * whatever they expand to. (And if `outer` covers `inner`, it matches the name
 * made by expanding each of `inner`'s `*` to a character `outer` never names,
 * which it can only absorb with a `*`; so it matches `inner`'s text too.)
 */
export function globCovers(outer: string, inner: string): boolean {
  return globToRegExp(outer).test(inner);
}

/**
 * The scopes an access token leaves its agent: the token's `scope` claim
 * intersected with the agent's configured `scopes`. Never more than either.
 *
 * - A plain scope (`events:read`, `jobs:approve`) is kept when both hold it, exactly.
 * - Tool scopes are globs (`tools:<glob>`). For each pair of an agent glob A and
 *   a token glob T: when T covers A (every tool A names, T names too), A is kept;
 *   when A covers T, T is kept, so the token narrows the agent; when neither
 *   covers the other, the pair grants nothing, even if some tool matches both
 *   (ask the authorization server for a scope inside the agent's instead).
 *
 * Examples, agent → token → result: `tools:*` → `tools:crm.*` → `tools:crm.*`;
 * `tools:demo.*` → `tools:*` → `tools:demo.*`; `tools:demo.*` → `tools:crm.*` → nothing;
 * `tools:demo.*` → `tools:demo.get*` → `tools:demo.get*`.
 * Token scopes the agent lacks (OpenID's `openid`, `profile`, …) add nothing.
 * Order follows the agent's scopes, without duplicates.
 */
export function intersectScopes(agentScopes: readonly string[], tokenScopes: readonly string[]): string[] {
  const granted = new Set(tokenScopes);
  const tokenGlobs = tokenScopes.filter((s) => s.startsWith(TOOL_SCOPE)).map((s) => s.slice(TOOL_SCOPE.length));
  const out = new Set<string>();
  for (const scope of agentScopes) {
    if (!scope.startsWith(TOOL_SCOPE)) {
      if (granted.has(scope)) out.add(scope);
      continue;
    }
    const agentGlob = scope.slice(TOOL_SCOPE.length);
    for (const tokenGlob of tokenGlobs) {
      if (globCovers(tokenGlob, agentGlob)) out.add(scope);
      else if (globCovers(agentGlob, tokenGlob)) out.add(`${TOOL_SCOPE}${tokenGlob}`);
    }
  }
  return [...out];
}

/** The `scope` claim of an access token (RFC 9068 §2.2.3, RFC 8693 §4.2): space-separated; anything else holds none. */
export function scopeClaim(value: unknown): string[] {
  return typeof value === 'string' ? value.split(' ').filter((s) => s !== '') : [];
}
