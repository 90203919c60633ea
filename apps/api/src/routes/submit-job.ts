import type { RequestHandler } from 'express';
import { toPublicJob } from '@broker/redis/jobs/job-store';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';
import { idempotencyKeyOf } from '../jobs/idempotency';
import { submitToolJob } from '../jobs/submit';

/**
 * `POST /v1/jobs`: validates everything, then records and queues the job and
 * answers 202 at once; the agent polls `Location` for the result. With an
 * `Idempotency-Key`, a repeat of the same request (even a concurrent one) gets
 * the first request's job back with 200 instead of a second job. The work is
 * {@link submitToolJob}, shared with the MCP endpoint.
 */
export function submitJob(ctx: ApiContext): RequestHandler {
  return async (req, res) => {
    const agent = agentOf(res);
    const idempotencyKey = idempotencyKeyOf(req.headersDistinct['idempotency-key']);
    const outcome = await submitToolJob(ctx, agent, { body: req.body, idempotencyKey, requestId: res.locals.requestId });
    if (outcome.kind === 'replayed') res.status(200).set('Idempotent-Replayed', 'true');
    else res.status(202);
    res.location(`/v1/jobs/${outcome.record.id}`).json(toPublicJob(outcome.record));
  };
}
