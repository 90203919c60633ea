import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/processes';

/** One command of the README's quick start, and the answer the README shows for it, if it shows one. */
export interface QuickStartStep {
  command: string;
  /** The `# {…}` lines under the command, joined: the answer's shape, `…` where the README elides. */
  shows?: string;
}

/**
 * The README's second `sh` block (the one that starts with `source
 * .data/dev.env`), as a user types it: line continuations joined, comments
 * that introduce a step dropped, example answers attached to their command.
 */
export function readmeQuickStart(): QuickStartStep[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith('source .data/dev.env'));
  if (!block) throw new Error('README.md has no sh block starting with `source .data/dev.env`');
  const steps: QuickStartStep[] = [];
  let pending = '';
  for (const line of block.split('\n').slice(1)) {
    if (pending) {
      pending += ` ${line.trim().replace(/\\$/, '').trim()}`;
      if (!line.endsWith('\\')) {
        steps.push({ command: pending });
        pending = '';
      }
      continue;
    }
    const answer = /^#\s+([{[ ].*)$/.exec(line);
    const last = steps[steps.length - 1];
    if (answer && last && (last.shows !== undefined || answer[1]!.startsWith('{'))) {
      last.shows = `${last.shows ?? ''}${answer[1]!.trim()}`;
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    if (line.endsWith('\\')) pending = line.replace(/\\$/, '').trim();
    else steps.push({ command: line.trim() });
  }
  return steps;
}

/**
 * The `"key":value` pairs a README answer names with plain values (strings,
 * numbers, booleans). A `…` inside a string stands for anything.
 */
export function namedPairs(shows: string): { key: string; matches: (value: unknown) => boolean; text: string }[] {
  return [...shows.matchAll(/"(\w+)":("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)/g)].map((m) => {
    const [text, key, raw] = m as unknown as [string, string, string];
    if (!raw.startsWith('"')) return { key, text, matches: (v: unknown) => v === JSON.parse(raw) };
    const pattern = new RegExp(
      `^${(JSON.parse(raw) as string)
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
      's',
    );
    return { key, text, matches: (v: unknown) => typeof v === 'string' && pattern.test(v) };
  });
}

/** Whether some object inside `value` has `key` with a value the pair accepts. */
export function containsPair(value: unknown, pair: ReturnType<typeof namedPairs>[number]): boolean {
  if (Array.isArray(value)) return value.some((v) => containsPair(v, pair));
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  if (pair.key in record && pair.matches(record[pair.key])) return true;
  return Object.values(record).some((v) => containsPair(v, pair));
}
