import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/free-port';
import { waitFor } from '../helpers/wait-for';
import { PrivateRedis } from './private-redis';

/** The master group name the broker's default (`REDIS_SENTINEL_NAME`) expects. */
export const MASTER_NAME = 'mymaster';

/** One `redis-server --sentinel` on a free loopback port, with a config file of its own (sentinels rewrite it). */
class PrivateSentinel {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  private readonly dir = mkdtempSync(join(tmpdir(), 'broker-chaos-sentinel-'));

  constructor(readonly port: number) {}

  async start(primaryPort: number, downAfterMs: number): Promise<void> {
    const file = join(this.dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        `port ${this.port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        'sentinel resolve-hostnames no',
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${MASTER_NAME} ${Math.max(3000, downAfterMs * 3)}`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [file, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis sentinel exited: ${out}`);
          if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
          return (await probe.ping()) === 'PONG';
        },
        { timeoutMs: 10_000, intervalMs: 50, what: `sentinel on ${this.port}: ${out}` },
      );
    } finally {
      probe.disconnect();
    }
  }

  /** The primary this sentinel names now: its port. */
  async primaryPort(): Promise<number> {
    const probe = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      const [, port] = (await probe.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string];
      return Number(port);
    } finally {
      probe.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A replicated Redis as production runs it: a primary, `replicas` replicas
 * and three sentinels (quorum 2) on loopback, all private processes of one
 * test file. After the primary dies, the sentinels promote a replica within
 * about `downAfterMs` plus an election; `primary()` names the current one.
 */
export class SentinelGroup {
  private constructor(
    readonly nodes: PrivateRedis[],
    private readonly sentinels: PrivateSentinel[],
  ) {}

  static async start({ replicas = 2, downAfterMs = 1000, aof = false } = {}): Promise<SentinelGroup> {
    const primary = await PrivateRedis.start({ aof });
    const followers = await Promise.all(Array.from({ length: replicas }, () => PrivateRedis.start({ aof, replicaOf: primary.port })));
    const sentinels = await Promise.all([0, 1, 2].map(async () => new PrivateSentinel(await freePort())));
    await Promise.all(sentinels.map((s) => s.start(primary.port, downAfterMs)));
    const group = new SentinelGroup([primary, ...followers], sentinels);
    // Every replica in sync (online: the first full sync waits out repl-diskless-sync-delay) before anything is measured.
    await waitFor(async () => ((await primary.client().info('replication')).match(/state=online/g) ?? []).length === replicas, {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: `${replicas} replicas connected`,
    });
    return group;
  }

  /** `REDIS_SENTINELS` for the broker's processes. */
  get sentinelsEnv(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  /** The node the sentinels name primary now. */
  async primary(): Promise<PrivateRedis> {
    const port = await this.sentinels[0]!.primaryPort();
    return this.nodes.find((n) => n.port === port)!;
  }

  /** Waits until the sentinels name a primary other than `old`, and it accepts writes with a replica of its own. */
  async promotedAfter(old: PrivateRedis, timeoutMs = 20_000): Promise<PrivateRedis> {
    return waitFor(
      async () => {
        const port = await this.sentinels[0]!.primaryPort().catch(() => old.port);
        if (port === old.port) return undefined;
        const next = this.nodes.find((n) => n.port === port)!;
        const info = await next.client().info('replication');
        return /role:master/.test(info) && Number(/connected_slaves:(\d+)/.exec(info)?.[1]) >= 1 ? next : undefined;
      },
      { timeoutMs, intervalMs: 100, what: 'a replica promoted, with a replica of its own' },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.sentinels.map((s) => s.stop()));
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
