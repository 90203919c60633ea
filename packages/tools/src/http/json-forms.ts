/**
 * How a JSON encoder may write `/` and `+` inside a string: any character may
 * be `\uXXXX` in either case, and `/` also `\/` (RFC 8259 §7). PHP's
 * json_encode writes `\/` by default; .NET's System.Text.Json writes `+` as
 * `\u002B`.
 */
const SLASH_FORMS = ['/', '\\/', '\\u002f', '\\u002F'];
const PLUS_FORMS = ['+', '\\u002b', '\\u002B'];

/**
 * The ways `value` can appear inside a JSON string, for a search through an
 * answer's raw text for a secret it quotes back: a search for the value as
 * is misses `ab\/c+d` or `ab\u002Fc\u002Bd` for `ab/c+d`. One encoder escapes
 * a character the same way throughout, so each pairing of a `/` form and a
 * `+` form is one spelling. `"`, `\` and control characters as
 * JSON.stringify escapes them.
 */
export function jsonStringForms(value: string): string[] {
  const plain = JSON.stringify(value).slice(1, -1);
  const forms = new Set<string>();
  for (const slash of value.includes('/') ? SLASH_FORMS : ['/']) {
    for (const plus of value.includes('+') ? PLUS_FORMS : ['+']) forms.add(plain.replaceAll('/', slash).replaceAll('+', plus));
  }
  return [...forms];
}
