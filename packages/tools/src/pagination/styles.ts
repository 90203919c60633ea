import type { HttpRequest, IntegrationHttp } from '../types';
import { parseLinkHeader } from './link-header';
import type { FetchPage } from './paginate';

/**
 * Cursor style (GraphQL connections, Stripe's `starting_after`, HubSpot's
 * `after`): the API returns an opaque cursor for the next page, or none.
 */
export function cursorPages<T>(fetch: (cursor: string | undefined, limit: number) => Promise<{ items: T[]; nextCursor: string | null | undefined }>): FetchPage<T, string> {
  return async (cursor, limit) => {
    const page = await fetch(cursor, limit);
    return { items: page.items, next: page.nextCursor ?? undefined };
  };
}

/**
 * Offset style (`offset`/`limit`, `page`/`per_page` turned into offsets): the
 * next page starts after the records read; the last page is short, or ends at
 * `total` when the API reports it.
 */
export function offsetPages<T>(fetch: (offset: number, limit: number) => Promise<{ items: T[]; total?: number }>, pageSize: number): FetchPage<T, number> {
  return async (cursor, limit) => {
    const offset = cursor ?? 0;
    const asked = Math.min(pageSize, limit);
    const page = await fetch(offset, asked);
    const next = offset + page.items.length;
    const more = page.items.length >= asked && (page.total === undefined || next < page.total);
    return { items: page.items, next: more ? next : undefined };
  };
}

/**
 * Link-header style (GitHub, RFC 8288): the answer's `Link` names the next
 * page's URL. Only its query is followed, on the first request's path: the
 * link's host and path are the upstream's (GitHub writes
 * `/repositories/{id}/…` there, and an Enterprise base URL's `/api/v3` prefix),
 * and credentials must never follow a URL an answer chose.
 */
export function linkHeaderPages<T>(http: IntegrationHttp, first: HttpRequest, itemsOf: (data: unknown) => T[]): FetchPage<T, Record<string, string>> {
  return async (cursor) => {
    const req: HttpRequest = cursor ? { ...first, query: cursor } : first;
    const res = await http.request(req);
    const next = parseLinkHeader(res.headers['link']).get('next');
    return { items: itemsOf(res.data), next: next === undefined ? undefined : Object.fromEntries(new URL(next, 'http://link.invalid').searchParams) };
  };
}
