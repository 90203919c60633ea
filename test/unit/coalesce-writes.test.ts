import { Redis } from 'ioredis';
import { coalesceWrites } from '@broker/redis/coalesce-writes';
import { createRedis, waitForReady } from '@broker/redis/connection';
import { REDIS_URL, uniquePrefix } from '../helpers/redis';

/** Counts the socket writes the stream hands to the OS (Node calls _writev for corked data, _write otherwise). */
function countWrites(redis: Redis): { writes: () => number } {
  const stream = redis.stream as unknown as { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  let writes = 0;
  const write = stream._write.bind(stream);
  stream._write = (...a: unknown[]) => {
    writes++;
    write(...a);
  };
  const writev = stream._writev?.bind(stream);
  if (writev) {
    stream._writev = (...a: unknown[]) => {
      writes++;
      writev(...a);
    };
  }
  return { writes: () => writes };
}

describe('coalesceWrites', () => {
  const prefix = uniquePrefix('coalesce');
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) await c.quit();
  });

  async function client(coalesced: boolean, flush: 'turn' | 'tick' = 'turn'): Promise<Redis> {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    await waitForReady(redis);
    return coalesced ? coalesceWrites(redis, { flush }) : redis;
  }

  /** Whether the command's bytes are still held when a callback queued before it (setImmediate) runs. */
  async function heldPastQueuedCallback(redis: Redis): Promise<boolean> {
    const stream = redis.stream as unknown as { writableCorked: number };
    const corkedThen = new Promise<number>((resolve) => setImmediate(() => resolve(stream.writableCorked)));
    const reply = redis.ping();
    const held = (await corkedThen) > 0;
    await reply;
    return held;
  }

  it('commands issued in one turn of the event loop leave in one write, in order, each with its reply', async () => {
    const redis = await client(true);
    const { writes } = countWrites(redis);
    const replies = await Promise.all([redis.set(`${prefix}:a`, '1'), redis.incr(`${prefix}:a`), redis.eval('return ARGV[1]', 0, 'script'), redis.get(`${prefix}:a`)]);
    expect(replies).toEqual(['OK', 2, 'script', '2']);
    expect(writes()).toBe(1);
  });

  it('without it, each command is a write of its own (what the test above would otherwise see)', async () => {
    const redis = await client(false);
    const { writes } = countWrites(redis);
    await Promise.all([redis.set(`${prefix}:b`, '1'), redis.incr(`${prefix}:b`), redis.get(`${prefix}:b`)]);
    expect(writes()).toBe(3);
  });

  it('an error reply reaches its own command only', async () => {
    const redis = await client(true);
    const results = await Promise.allSettled([redis.set(`${prefix}:c`, 'x'), redis.incr(`${prefix}:c`), redis.get(`${prefix}:c`)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseFulfilledResult<string>).value).toBe('x');
  });

  it('holds across a reconnect (a new socket)', async () => {
    const redis = await client(true);
    const before = redis.stream;
    const reconnected = new Promise((resolve) => redis.once('ready', resolve));
    redis.disconnect(true);
    await reconnected;
    expect(redis.stream).not.toBe(before);
    const { writes } = countWrites(redis);
    expect(await Promise.all([redis.set(`${prefix}:d`, '1'), redis.get(`${prefix}:d`)])).toEqual(['OK', '1']);
    expect(writes()).toBe(1);
    await redis.del(`${prefix}:a`, `${prefix}:b`, `${prefix}:c`, `${prefix}:d`);
  });

  it("'tick' sends what the code issued together in one write, without waiting for the turn's other callbacks", async () => {
    const ticked = await client(true, 'tick');
    const { writes } = countWrites(ticked);
    expect(await Promise.all([ticked.set(`${prefix}:e`, '1'), ticked.incr(`${prefix}:e`), ticked.get(`${prefix}:e`)])).toEqual(['OK', 2, '2']);
    expect(writes()).toBe(1);
    await ticked.del(`${prefix}:e`);
    expect(await heldPastQueuedCallback(ticked)).toBe(false);
    // 'turn' holds the bytes until the turn's queued callbacks have run.
    expect(await heldPastQueuedCallback(await client(true, 'turn'))).toBe(true);
  });

  it("is what every connection to a single Redis gets: the api's per turn, a worker's per tick", async () => {
    for (const [role, expected] of [
      ['producer', 1],
      ['worker', 1],
    ] as const) {
      const redis = createRedis(REDIS_URL, role) as Redis;
      clients.push(redis);
      await waitForReady(redis);
      const { writes } = countWrites(redis);
      await Promise.all([redis.ping(), redis.ping(), redis.ping()]);
      expect([role, writes()]).toEqual([role, expected]);
      expect([role, await heldPastQueuedCallback(redis)]).toEqual([role, role === 'producer']);
    }
  });
});
