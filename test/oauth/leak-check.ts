import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createLogger, type Logger } from '@broker/shared/logger';

/** Every key and value under a prefix, whatever its type, as one string to search. */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** A logger at debug level whose every line is kept, so a test can search what was logged. */
export function capturingLogger(name: string): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      if (process.env.TEST_LOG) process.stdout.write(chunk);
      done();
    },
  });
  return { logger: createLogger({ name, level: 'debug', destination }), text: () => lines.join('') };
}

/** The secrets of `candidates` (at least 6 characters) that occur in `haystack`. */
export function leaked(haystack: string, candidates: Iterable<string | undefined>): string[] {
  return [...new Set(candidates)].filter((c): c is string => typeof c === 'string' && c.length >= 6 && haystack.includes(c));
}
