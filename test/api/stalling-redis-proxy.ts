import { connect, createServer, type Server, type Socket } from 'node:net';
import { REDIS_URL } from '../helpers/redis';

/** Splits RESP request arrays (`*N`, then N bulk strings) out of a buffer; returns commands and the rest. */
export function parseCommands(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const header = /^\*(\d+)\r\n/.exec(buffer.slice(at));
    if (!header) break;
    let pos = at + header[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(header[1]); i++) {
      const len = /^\$(\d+)\r\n/.exec(buffer.slice(pos));
      if (!len || buffer.length < pos + len[0].length + Number(len[1]) + 2) return { commands, rest: buffer.slice(at) };
      pos += len[0].length;
      args.push(buffer.slice(pos, pos + Number(len[1])));
      pos += Number(len[1]) + 2;
    }
    commands.push(args);
    at = pos;
  }
  return { commands, rest: buffer.slice(at) };
}

/** BullMQ's add of a job (addStandardJob): a script whose keys include the queue's `id` counter and `marker`. */
export function isBullMqAdd(args: string[]): boolean {
  const command = args[0]?.toLowerCase();
  return (command === 'evalsha' || command === 'eval') && args.some((a) => a.endsWith(':marker')) && args.some((a) => a.endsWith(':id'));
}

interface Stall {
  match: (args: string[]) => boolean;
  holdMs: number;
  swallow: boolean;
  onMatch: (() => void) | undefined;
  done: () => void;
}

/**
 * A TCP proxy in front of the real Redis that can hold Redis's answers back
 * while every command still goes through at once: Redis runs the command,
 * and the client hears nothing until its command timeout, as when an answer
 * is lost or late. Nothing is mocked: Redis, ioredis and BullMQ are the real
 * ones, only the wire between them stalls.
 */
export class StallingRedisProxy {
  private readonly sockets = new Set<Socket>();
  private stall: Stall | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target = REDIS_URL): Promise<StallingRedisProxy> {
    const upstreamUrl = new URL(target);
    let proxy: StallingRedisProxy | undefined;
    const server = createServer((client) => proxy!.pipe(client, upstreamUrl));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    proxy = new StallingRedisProxy(server, `redis://127.0.0.1:${port}`);
    return proxy;
  }

  /**
   * Arms a stall: the next command matching `match` (its RESP arguments) makes
   * the proxy hold every answer on that connection, from that command's on,
   * for `holdMs`. With `swallow` the matching command itself never reaches
   * Redis (a write lost on the way), and is answered with an error when the
   * stall ends so the client's replies stay in order. `onMatch` runs once the
   * matching command is on its way to Redis (e.g. to {@link dropClients} while
   * its answer is held). Resolves when the held answers have been let through.
   */
  stallAfter(match: (args: string[]) => boolean, holdMs: number, { swallow = false, onMatch }: { swallow?: boolean; onMatch?: () => void } = {}): Promise<void> {
    return new Promise((done) => {
      this.stall = { match, holdMs, swallow, onMatch, done };
    });
  }

  /** Cuts every connection open now, as a network blip or a failover does; the proxy keeps accepting new ones. */
  dropClients(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private pipe(client: Socket, target: URL): void {
    const redis = connect(Number(target.port || 6379), target.hostname);
    this.sockets.add(client).add(redis);
    const drop = () => {
      client.destroy();
      redis.destroy();
    };
    client.on('error', drop).on('close', drop);
    redis.on('error', drop).on('close', drop);

    let pending = '';
    let held: Buffer[] | undefined;
    redis.on('data', (chunk: Buffer) => {
      if (held) held.push(chunk);
      else client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      const stall = this.stall;
      if (!stall && pending === '') {
        redis.write(chunk);
        return;
      }
      // Whole commands only: the armed stall looks at each one.
      const { commands, rest } = parseCommands(pending + chunk.toString('latin1'));
      pending = rest;
      for (const args of commands) {
        const wire = Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`, 'latin1');
        if (stall && this.stall === stall && stall.match(args)) {
          this.stall = undefined;
          held = [];
          // A swallowed command's answer comes first when the stall ends (the
          // client must have nothing else in flight on this connection).
          if (stall.swallow) held.push(Buffer.from('-ERR dropped by the test proxy\r\n'));
          setTimeout(() => {
            const release = Buffer.concat(held ?? []);
            held = undefined;
            if (!client.destroyed) client.write(release);
            stall.done();
          }, stall.holdMs);
          if (stall.onMatch) setImmediate(stall.onMatch);
          if (stall.swallow) continue;
        }
        redis.write(wire);
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
