import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 1000 ms: a load balancer probe should learn quickly that this instance cannot serve. */
const PING_DEADLINE_MS = 1000;

/**
 * `/readyz`: Redis answers and every queue the api adds to (tools, triggers,
 * callbacks) has its connection set up, so jobs and events can be taken.
 * Take the instance out of rotation otherwise. Counting the queues' setup
 * here keeps the first routed request from paying for it; once set up, a
 * queue stays so through reconnects, and the PING alone says whether Redis is
 * back.
 */
export function readyz({ redis, queues, triggers, callbacks }: ApiContext): RequestHandler {
  const producers = [...queues.values(), triggers, callbacks];
  return async (_req, res) => {
    try {
      await withRedisDeadline(Promise.all([redis.ping(), ...producers.map((queue) => queue.waitUntilReady())]), PING_DEADLINE_MS);
    } catch {
      throw new ProblemError('UNAVAILABLE', 'Redis does not answer, or the job queues have not connected to it yet.', undefined, { 'Retry-After': '1' });
    }
    res.json({ status: 'ready' });
  };
}
