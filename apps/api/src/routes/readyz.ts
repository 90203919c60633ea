import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 1000 ms: a load balancer probe should learn quickly that this instance cannot serve. */
const PING_DEADLINE_MS = 1000;

/** `/readyz`: Redis answers, so jobs can be taken. Take the instance out of rotation otherwise. */
export function readyz({ redis }: ApiContext): RequestHandler {
  return async (_req, res) => {
    try {
      await withRedisDeadline(redis.ping(), PING_DEADLINE_MS);
    } catch {
      throw new ProblemError('UNAVAILABLE', 'Redis does not answer.', undefined, { 'Retry-After': '1' });
    }
    res.json({ status: 'ready' });
  };
}
