import type { RequestHandler } from 'express';
import { toPublicJob } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { denyHeldJob } from '../jobs/approval-decisions';
import { withRedisDeadline } from '../redis/deadline';
import { decisionOf } from './decision-body';
import { assertJobId } from './own-job';

/**
 * `POST /v1/jobs/:id/deny` (admin token, or scope `jobs:approve`): a job
 * awaiting approval ends `failed` `APPROVAL_DENIED`, the reason in its
 * message: 200 with the job. Any other state 409, an unknown id 404; an
 * agent may not deny its own job (403; it can cancel it).
 */
export function denyJob(ctx: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = req.params.id;
    assertJobId(id);
    const { decider, reason } = decisionOf(req.body, res);
    const record = await withRedisDeadline(denyHeldJob(ctx, id, decider, reason, res.locals.requestId));
    res.json(toPublicJob(record));
  };
}
