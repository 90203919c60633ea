/**
 * Parses an RFC 8288 `Link` header into relation → target URL, e.g.
 * `<https://api.github.com/…?page=2>; rel="next", <…?page=5>; rel="last"`.
 * A `rel` may name several relations (`rel="next last"`); the first link of a
 * relation wins.
 */
export function parseLinkHeader(value: string | undefined): Map<string, string> {
  const links = new Map<string, string>();
  if (!value) return links;
  // Targets are inside <…> and may contain commas and semicolons themselves.
  const pattern = /<([^>]*)>((?:\s*;\s*[^;,]+(?:=(?:"[^"]*"|[^;,]*))?)*)/g;
  for (const match of value.matchAll(pattern)) {
    const target = match[1]!;
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(params);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    for (const relation of relations) if (!links.has(relation)) links.set(relation, target);
  }
  return links;
}
