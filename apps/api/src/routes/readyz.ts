import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 1000 ms: a load balancer probe should learn quickly that this instance cannot serve. */
const PING_DEADLINE_MS = 1000;

/**
 * `/readyz`: Redis answers and every tool queue has finished connecting, so
 * jobs can be taken. Take the instance out of rotation otherwise. A queue's
 * first command waits for its connection check (BullMQ reads the server
 * version once); counting that here keeps the first routed request from
 * paying for it.
 */
export function readyz({ redis, queues }: ApiContext): RequestHandler {
  return async (_req, res) => {
    try {
      await withRedisDeadline(Promise.all([redis.ping(), ...[...queues.values()].map((queue) => queue.waitUntilReady())]), PING_DEADLINE_MS);
    } catch {
      throw new ProblemError('UNAVAILABLE', 'Redis does not answer.', undefined, { 'Retry-After': '1' });
    }
    res.json({ status: 'ready' });
  };
}
