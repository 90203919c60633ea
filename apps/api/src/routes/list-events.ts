import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ListPosition } from '@broker/redis/webhooks/event-store';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { parseQuery } from '../http/parse-query';

/** @defaultValue 20 */
export const DEFAULT_EVENTS_PAGE = 20;
export const MAX_EVENTS_PAGE = 100;

const instant = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}/.test(v), 'must be an ISO 8601 date-time')
  .transform((v) => Date.parse(v));

/** The cursor is opaque to clients: base64url of the last row's [receivedAt ms, id]. */
function decodeCursor(cursor: string): ListPosition | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === 'string') {
      return { score: value[0] as number, id: value[1] as string };
    }
  } catch {
    // falls through to undefined
  }
  return undefined;
}

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.score, position.id])).toString('base64url');
}

const querySchema = z.strictObject({
  source: z.string().min(1).max(64).optional(),
  type: z.string().min(1).max(255).optional(),
  /** receivedAt at or after. */
  since: instant.optional(),
  /** receivedAt before. */
  until: instant.optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_EVENTS_PAGE))
    .optional(),
  cursor: z
    .string()
    .max(1024)
    .transform((v, ctx) => {
      const position = decodeCursor(v);
      if (!position) ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' });
      return position ?? z.NEVER;
    })
    .optional(),
});

/**
 * `GET /v1/events?source=&type=&since=&until=&limit=&cursor=` (docs/webhooks.md#events-api):
 * newest first. Pass `nextCursor` back as `cursor`, with the same filters, for
 * the next page; `null` means there is none.
 */
export function listEvents({ eventStore, config }: ApiContext): RequestHandler {
  const allSources = Object.keys(config.webhooks);
  return async (req, res) => {
    const q = parseQuery(querySchema, req.query);
    const page = await withRedisDeadline(
      eventStore.list({
        // Without a filter, every configured source (a source taken out of the config is still listed by name).
        sources: q.source !== undefined ? [q.source] : allSources,
        type: q.type,
        since: q.since,
        until: q.until,
        limit: q.limit ?? DEFAULT_EVENTS_PAGE,
        after: q.cursor,
      }),
    );
    res.json({ events: page.events, nextCursor: page.next ? encodeCursor(page.next) : null });
  };
}
