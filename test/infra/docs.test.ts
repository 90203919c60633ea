import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { proseLines } from '../helpers/markdown';

/**
 * The README is the front door and docs/ the manual: every relative link in
 * them reaches an existing file, and every `#anchor` a heading of its target
 * (GitHub's slugs), so moving a section cannot leave a link behind.
 */

const ROOT = join(__dirname, '../..');
const DOCS = join(ROOT, 'docs');
const files = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(DOCS, name)),
];

/** GitHub's heading ids: lower case, punctuation dropped (but `-` and `_`), spaces to `-`, repeats numbered. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text only
      .replace(/<[^>]+>/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** Every inline link and image target in the prose, with its line number; inline code is skipped. */
function links(markdown: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ target: match[1]!, line: index + 1 });
  });
  return found;
}

const slugCache = new Map<string, Set<string>>();
const slugsOf = (file: string) => {
  let slugs = slugCache.get(file);
  if (!slugs) slugCache.set(file, (slugs = headingSlugs(readFileSync(file, 'utf8'))));
  return slugs;
};

describe('GitHub heading slugs', () => {
  it('lower-cases, drops punctuation but - and _, turns spaces into -, numbers repeats', () => {
    const markdown = [
      '# Integrations (`GET /v1/integrations`)',
      '## What `POST /hooks/{source}` answers',
      '### Writes without an idempotency key: `reference` and `verify`',
      '## OAuth 2.0',
      '## Retry_after and co-operation',
      '```sh',
      '# not a heading',
      '```',
      '## OAuth 2.0',
    ].join('\n');
    expect([...headingSlugs(markdown)]).toEqual([
      'integrations-get-v1integrations',
      'what-post-hookssource-answers',
      'writes-without-an-idempotency-key-reference-and-verify',
      'oauth-20',
      'retry_after-and-co-operation',
      'oauth-20-1',
    ]);
  });
});

describe.each(files.map((file) => [relative(ROOT, file), file] as const))('%s', (_name, file) => {
  const markdown = readFileSync(file, 'utf8');
  const relativeLinks = links(markdown).filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));

  it('links only to files that exist', () => {
    const broken = relativeLinks
      .filter(({ target }) => !target.startsWith('#'))
      .filter(({ target }) => !existsSync(resolve(dirname(file), decodeURIComponent(target.split('#')[0]!))))
      .map(({ target, line }) => `line ${line}: ${target}`);
    expect(broken).toEqual([]);
  });

  it('links only to headings that exist in the target', () => {
    const broken = relativeLinks
      .filter(({ target }) => target.includes('#'))
      .filter(({ target }) => {
        const [path, anchor] = target.split('#') as [string, string];
        const targetFile = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
        if (!existsSync(targetFile) || !statSync(targetFile).isFile()) return true;
        return !slugsOf(targetFile).has(decodeURIComponent(anchor));
      })
      .map(({ target, line }) => `line ${line}: ${target}`);
    expect(broken).toEqual([]);
  });
});

describe('README.md as the front door', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('stays short (the manual lives in docs/) and shows the two commands and the tests', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    for (const command of ['pnpm install', 'pnpm start', 'pnpm test']) expect(readme).toContain(command);
  });

  it('links every file of docs/', () => {
    const linked = readdirSync(DOCS).filter((name) => name.endsWith('.md') && !readme.includes(`docs/${name}`));
    expect(linked).toEqual([]);
  });
});
