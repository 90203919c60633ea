import type { Redis } from 'ioredis';

const COALESCED = Symbol('broker.coalescedWrites');

type CoalescedStream = NodeJS.WritableStream & { cork(): void; uncork(): void; [COALESCED]?: true };

/**
 * Makes every command a connection sends during one turn of the event loop
 * leave in one socket write: the socket is corked at the turn's first write
 * and uncorked when the turn's I/O callbacks are done (setImmediate).
 *
 * Why: on loopback a write costs about as much CPU as the command itself, and
 * a worker or an api under load issues commands from many jobs and requests
 * in the same turn. ioredis' auto-pipelining batches too, but it builds a
 * Pipeline per batch (which copies every script BullMQ defined on the
 * connection, ~40 µs) and keeps one batch in flight at a time; this only
 * batches the bytes. Order, replies and errors are ioredis' own.
 *
 * The price is up to one turn of latency per round trip, which a busy
 * process's turns make long: right for an api's independent requests, wrong
 * for a chain of round trips whose timing matters (see createRedis). With
 * `flush: 'tick'` the socket is uncorked as soon as the code that wrote is
 * done (process.nextTick, after the promise callbacks that ran with it):
 * commands issued together (`Promise.all` of checks, a job's finish and its
 * notice) share a write, and nothing waits for I/O of other requests.
 */
export function coalesceWrites(redis: Redis, { flush: when = 'turn' }: { flush?: 'turn' | 'tick' } = {}): Redis {
  const schedule = when === 'tick' ? (fn: () => void) => process.nextTick(fn) : (fn: () => void) => void setImmediate(fn);
  const install = () => {
    const stream = redis.stream as CoalescedStream | undefined;
    if (!stream || stream[COALESCED]) return;
    stream[COALESCED] = true;
    const write = stream.write;
    let corked = false;
    const flush = () => {
      corked = false;
      stream.uncork();
    };
    stream.write = function (this: CoalescedStream, ...args: unknown[]) {
      if (!corked) {
        corked = true;
        stream.cork();
        schedule(flush);
      }
      return (write as (...a: unknown[]) => boolean).apply(stream, args);
    } as typeof stream.write;
  };
  // A reconnect brings a new socket.
  redis.on('connect', install);
  install();
  return redis;
}
