import { createHash } from 'node:crypto';
import type { RedisClient } from './connection';

/**
 * A Lua script run by its SHA (EVALSHA), so the script text crosses the wire
 * once per Redis server instead of on every call; on NOSCRIPT (a restarted or
 * flushed Redis, a new cluster node) it falls back to EVAL, which also loads it.
 * On a Cluster both go to the node of the first key's slot; every script of
 * the broker keeps all its keys in that one slot (see keys.ts).
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run<T = unknown>(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await redis.eval(this.lua, keys.length, ...keys, ...args)) as T;
    }
  }
}
