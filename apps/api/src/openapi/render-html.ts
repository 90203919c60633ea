import type { OpenApiDocument } from './document';
import type { Operation } from './operation';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `code spans` of the descriptions, the only markup they use. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const schemaBlock = (schema: unknown) => `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;

function securityOf(op: Operation, doc: OpenApiDocument): string {
  const alternatives = op.security ?? doc.security;
  if (alternatives.length === 0) return 'none';
  return alternatives
    .map((alt) =>
      Object.keys(alt)
        .map((name) => `<code>${escapeHtml(name)}</code>`)
        .join(' + '),
    )
    .join(' or ');
}

function renderOperation(path: string, method: string, op: Operation, doc: OpenApiDocument, shared: Record<string, unknown>[]): string {
  const params = [...shared, ...(op.parameters ?? [])];
  const paramRows = params
    .map((p) => `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${inline(String(p.description ?? ''))}</td></tr>`)
    .join('');
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const content = r.content as Record<string, { schema?: unknown }> | undefined;
      const types = content
        ? Object.keys(content)
            .map((t) => `<code>${escapeHtml(t)}</code>`)
            .join(', ')
        : '';
      const schema = content ? Object.values(content)[0]?.schema : undefined;
      const detail = schema ? `<details><summary>schema</summary>${schemaBlock(schema)}</details>` : '';
      return `<li><b>${escapeHtml(status)}</b> ${inline(String(r.description ?? ''))} ${types}${detail}</li>`;
    })
    .join('');
  const body = op.requestBody ? `<h4>Request body</h4>${schemaBlock((op.requestBody.content as Record<string, unknown>) ?? {})}` : '';
  return `<section class="op" id="${escapeHtml(op.operationId)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${inline(op.summary)}</p>${op.description ? `<p>${inline(op.description)}</p>` : ''}
<p class="auth">Auth: ${securityOf(op, doc)}</p>
${paramRows ? `<h4>Parameters</h4><table>${paramRows}</table>` : ''}${body}
<h4>Responses</h4><ul>${responses}</ul>
</section>`;
}

/** The whole document as one self-contained HTML page, grouped by tag. */
export function renderDocsPage(doc: OpenApiDocument): string {
  const sections = doc.tags
    .map((tag) => {
      const ops: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const method of METHODS) {
          const op = item[method];
          if (op?.tags.includes(tag.name)) ops.push(renderOperation(path, method, op, doc, item.parameters ?? []));
        }
      }
      return ops.length ? `<h2 id="tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</h2><p>${inline(tag.description)}</p>${ops.join('\n')}` : '';
    })
    .join('\n');
  const schemas = Object.entries(doc.components.schemas)
    .map(([name, schema]) => `<details id="schema-${escapeHtml(name)}"><summary><code>${escapeHtml(name)}</code></summary>${schemaBlock(schema)}</details>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} — API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code,pre{font:13px ui-monospace,monospace;background:#f3f4f6;border-radius:4px}code{padding:0 .25em}pre{padding:.75em;overflow:auto}
.op{border:1px solid #d8dee4;border-radius:6px;padding:0 1rem;margin:1rem 0}.m{font:bold 12px monospace;padding:.2em .5em;border-radius:4px;color:#fff;background:#57606a}
.get{background:#0969da}.post{background:#1a7f37}.put{background:#9a6700}.delete{background:#cf222e}table{border-collapse:collapse}td{border-top:1px solid #d8dee4;padding:.25em .75em .25em 0;vertical-align:top}
.auth{color:#57606a}
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${inline(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI ${escapeHtml(doc.openapi)}).</p>
${sections}
<h2 id="schemas">Schemas</h2>
${schemas}
</body></html>
`;
}
