import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AuditPage } from '@broker/shared/audit/schema';
import type { ApiContext } from '../context';
import { parseQuery } from '../http/parse-query';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 100 */
export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_AUDIT_PAGE = 500;

/** A stream entry id: `<ms>-<seq>`. */
const STREAM_ID = /^\d{1,15}-\d{1,15}$/;

/** The cursor is opaque to clients: base64url of the stream id of the last entry the page looked at. */
export function encodeAuditCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

function decodeAuditCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return undefined;
  const position = Buffer.from(cursor, 'base64url').toString('utf8');
  return STREAM_ID.test(position) ? position : undefined;
}

const querySchema = z.strictObject({
  /** Exact agent id. */
  agent: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be an agent id (letters, digits, _ . -, at most 64)')
    .optional(),
  /** A tool name or a glob (`*` matches any run of characters). */
  tool: z
    .string()
    .regex(/^[A-Za-z0-9_.*-]{1,128}$/, 'must be a tool name or a glob such as "stripe.*"')
    .optional(),
  since: z
    .string()
    .max(64)
    .refine((v) => /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 date-time')
    .transform((v) => Date.parse(v))
    .optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_AUDIT_PAGE))
    .optional(),
  cursor: z
    .string()
    .max(1024)
    .transform((v, ctx) => {
      const position = decodeAuditCursor(v);
      if (!position) ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' });
      return position ?? z.NEVER;
    })
    .optional(),
});

/**
 * `GET /v1/audit?agent=&tool=&since=&limit=&cursor=` (docs/guardrails.md#audit-trail): the audit
 * trail, newest first. Filters are applied while scanning, at most
 * AUDIT_SCAN_BUDGET entries per request: a page can hold fewer than `limit`
 * entries (even none) while `nextCursor` is set; pass it back as `cursor`,
 * with the same filters, to go on. `null`: nothing older matches.
 */
export function listAudit({ audit }: ApiContext): RequestHandler {
  return async (req, res) => {
    const q = parseQuery(querySchema, req.query);
    const page = await withRedisDeadline(audit.read({ agent: q.agent, tool: q.tool, since: q.since, limit: q.limit ?? DEFAULT_AUDIT_PAGE, after: q.cursor }));
    const body: AuditPage = { entries: page.entries, nextCursor: page.next !== undefined ? encodeAuditCursor(page.next) : null };
    res.json(body);
  };
}
