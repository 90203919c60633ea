import { createHash } from 'node:crypto';
import type { RedisClient } from '@broker/redis/connection';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { withRedisDeadline } from '../redis/deadline';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/**
 * express-rate-limit's Redis store on the API's producer connection, with
 * two repairs:
 * - the store loads its scripts once, at start, and keeps the promise: with
 *   Redis away at that moment every later request would fail on that same
 *   rejected promise, even after Redis came back. SCRIPT LOAD answers the
 *   script's SHA1, so when it fails the SHA1 is computed here instead; the
 *   store's first EVALSHA then meets NOSCRIPT, and it loads the script again.
 * - every command is bounded like any other Redis work of a request, so a
 *   hung Redis is a 503 within the 2 s budget (docs/api.md#api-error-codes), not a hang.
 */
export function redisRateStore(redis: RedisClient, prefix: string): RedisStore {
  return new RedisStore({
    prefix,
    sendCommand: async (command: string, ...args: string[]): Promise<RedisReply> => {
      const run = () => withRedisDeadline(redis.call(command, ...args) as Promise<RedisReply>);
      if (command.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) {
        const script = args[1];
        return run().catch(() => sha1(script));
      }
      return run();
    },
  });
}
