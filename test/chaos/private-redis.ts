import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/free-port';
import { waitFor } from '../helpers/wait-for';

export interface PrivateRedisOptions {
  /** AOF with `appendfsync always`: every write is on disk before Redis answers. @defaultValue false */
  aof?: boolean;
  /** Start as a replica of the Redis on this loopback port. */
  replicaOf?: number;
}

/**
 * A redis-server of one test file's own, on a free loopback port with its
 * data in a temporary folder. Chaos tests kill it, restart it on the same
 * data and read its memory figures; the shared server on 6379 is never touched.
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'broker-chaos-redis-'));
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  private admin: Redis | undefined;

  private constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), options);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's pid (for RSS readings), or undefined while it is down. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Starts redis-server on the port and data folder (again, after a kill), and waits for PING. */
  async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--maxmemory-policy', 'noeviction'];
    args.push(...(this.options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    // Sentinel reconfigures replicas with CONFIG REWRITE-free commands, but a replica must announce a reachable address.
    if (this.options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(this.options.replicaOf), '--replica-announce-ip', '127.0.0.1');
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    // No redis-server on PATH: say so instead of timing out.
    child.once('error', (err) => (out += `cannot start redis-server (${err.message}); install Redis to run the chaos tests`));
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null || out.startsWith('cannot start')) throw new Error(`redis-server exited: ${out}`);
          if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 10_000, intervalMs: 50, what: `redis-server on ${this.port}: ${out}` },
      );
    } finally {
      probe.disconnect();
    }
  }

  /** SIGSTOP / SIGCONT: the process hangs without closing its connections (a frozen machine, a network cut). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGKILL: no shutdown, no last save; only what the AOF already holds survives. */
  async kill(): Promise<void> {
    this.admin?.disconnect();
    this.admin = undefined;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** A plain connection for the test's own reads. */
  client(): Redis {
    this.admin ??= new Redis(this.url, { maxRetriesPerRequest: 1 });
    return this.admin;
  }

  /** `used_memory` of INFO memory, in bytes. */
  async usedMemory(): Promise<number> {
    const info = await this.client().info('memory');
    return Number(/used_memory:(\d+)/.exec(info)![1]);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
