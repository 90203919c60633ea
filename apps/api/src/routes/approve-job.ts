import type { RequestHandler } from 'express';
import { toPublicJob } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { approveHeldJob } from '../jobs/approval-decisions';
import { withRedisDeadline } from '../redis/deadline';
import { decisionOf } from './decision-body';
import { assertJobId } from './own-job';

/**
 * `POST /v1/jobs/:id/approve` (admin token, or scope `jobs:approve`): a job
 * awaiting approval is queued and runs now: 200 with the job. Any other
 * state 409, an unknown id 404; an agent may not approve its own job (403).
 */
export function approveJob(ctx: ApiContext): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = req.params.id;
    assertJobId(id);
    const { decider, reason } = decisionOf(req.body, res);
    const record = await withRedisDeadline(approveHeldJob(ctx, id, decider, reason, res.locals.requestId));
    res.json(toPublicJob(record));
  };
}
