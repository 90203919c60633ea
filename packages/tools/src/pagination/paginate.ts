import { ToolError } from '../tool-error';
import { DEFAULT_MAX_RECORDS } from '../list-limits';
import type { ToolContext } from '../types';

export { DEFAULT_MAX_RECORDS };

/** One page: its records, and where the next one starts (undefined: this was the last). */
export interface Page<T, C> {
  items: T[];
  next?: C | undefined;
}

/** What a page fetch gets: the page to read, and the most records it may add (ask the API for no more). */
export type FetchPage<T, C> = (cursor: C | undefined, limit: number) => Promise<Page<T, C>>;

export interface PaginateOptions {
  /**
   * The hard cap: reading stops once this many records are collected, and the
   * result says `truncated`. A job result lives in Redis and in the agent's
   * context window, so an unbounded listing is a bug, not a feature.
   * @defaultValue {@link DEFAULT_MAX_RECORDS}
   */
  maxRecords?: number;
}

export interface Paginated<T, C> {
  items: T[];
  pages: number;
  /** More records exist upstream than were read (the cap was reached). */
  truncated: boolean;
  /**
   * Where to resume when truncated (pass it back as the starting cursor), else
   * null. When the cap fell inside a page the API would not shorten (link
   * style), this is that page again: a resumed read may repeat records, never skip them.
   */
  next: C | null;
}

/** The part of the tool context pagination uses. */
export type PaginationContext = Pick<ToolContext, 'reportProgress'> & Partial<Pick<ToolContext, 'signal'>>;

/** Empty pages that still promise more, in a row, before the listing is declared stuck. */
const MAX_EMPTY_PAGES = 3;

function sameCursor(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Reads pages until the upstream has no more or the cap is reached. After each
 * page the job's progress is `{ page, records }` (what `GET /v1/jobs/{id}`
 * shows while it runs). Each page is one upstream call through `ctx.http`,
 * which the worker admits through the integration's rate limit and pause like
 * any other call.
 */
export async function paginate<T, C>(ctx: PaginationContext, fetchPage: FetchPage<T, C>, options: PaginateOptions & { start?: C | undefined } = {}): Promise<Paginated<T, C>> {
  const max = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxRecords must be a positive integer, got ${max}`);
  const items: T[] = [];
  let cursor = options.start;
  let pages = 0;
  let emptyInARow = 0;
  for (;;) {
    if (ctx.signal?.aborted) throw new ToolError('TIMEOUT', { message: 'the listing was cancelled' });
    const limit = max - items.length;
    const page = await fetchPage(cursor, limit);
    pages += 1;
    const overshoot = page.items.length > limit;
    items.push(...(overshoot ? page.items.slice(0, limit) : page.items));
    await ctx.reportProgress({ page: pages, records: items.length });
    if (overshoot) return { items, pages, truncated: true, next: cursor ?? null };
    if (page.next === undefined) return { items, pages, truncated: false, next: null };
    if (items.length >= max) return { items, pages, truncated: true, next: page.next };
    emptyInARow = page.items.length === 0 ? emptyInARow + 1 : 0;
    if (emptyInARow >= MAX_EMPTY_PAGES || (cursor !== undefined && sameCursor(page.next, cursor))) {
      // An API that hands back the same cursor, or empty pages that keep promising more, would loop forever.
      throw new ToolError('UNKNOWN', { message: `pagination did not advance after page ${pages}` });
    }
    cursor = page.next;
  }
}
