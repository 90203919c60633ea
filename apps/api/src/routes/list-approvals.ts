import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ApprovalList } from '@broker/shared/jobs/approvals';
import type { ApiContext } from '../context';
import { listHeldJobs } from '../jobs/approval-decisions';
import { parseQuery } from '../http/parse-query';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 100 */
export const DEFAULT_APPROVALS_PAGE = 100;
/** @defaultValue 500 */
export const MAX_APPROVALS_PAGE = 500;

const querySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_APPROVALS_PAGE))
    .optional(),
});

/**
 * `GET /v1/approvals[?limit=]` (admin token, or scope `jobs:approve`):
 * `{"jobs":[…]}`, the jobs awaiting approval, oldest first, each with its
 * `agent`, `connection`, the `rule` that held it, `expiresAt` and its
 * `input` — operators see what they are asked to approve.
 */
export function listApprovals(ctx: ApiContext): RequestHandler {
  return async (req, res) => {
    const { limit } = parseQuery(querySchema, req.query);
    const jobs = await withRedisDeadline(listHeldJobs(ctx, limit ?? DEFAULT_APPROVALS_PAGE));
    const body: ApprovalList = { jobs };
    res.json(body);
  };
}
