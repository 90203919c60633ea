import type { RedisClient } from '@broker/redis/connection';
import type { Logger } from '@broker/shared/logger';
import { withRedisDeadline } from '../redis/deadline';

/** @defaultValue 500 ms: how long {@link JobEventHub.close} waits for Redis to confirm the UNSUBSCRIBE. */
const UNSUBSCRIBE_DEADLINE_MS = 500;

/** A registration for one job; settle it with {@link JobWaiter.until} and always {@link JobWaiter.release}. */
export interface JobWaiter {
  /**
   * Resolves on the job's terminal event, after `ms`, on `signal` abort, or when
   * the subscription was re-established (events may have been missed: re-read).
   */
  until(ms: number, signal?: AbortSignal): Promise<void>;
  release(): void;
}

/**
 * Long-polls wait on this instead of polling Redis: one SUBSCRIBE per API
 * process to the channel the job store publishes terminal job ids on, and a
 * map from job id to the requests waiting for it. A thousand waiting clients
 * cost a thousand map entries, not a thousand Redis reads a second.
 */
export class JobEventHub {
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscribed = false;
  private closing = false;

  private readonly onMessage = (channel: string, jobId: string) => {
    if (channel === this.channel) this.wake(this.waiters.get(jobId));
  };

  /**
   * Pub/sub is fire-and-forget: anything published while the subscriber was
   * reconnecting is lost. ioredis resubscribes on its own; we wake every
   * waiter so each re-reads its job once and waits again if need be.
   */
  private readonly onReady = () => {
    if (!this.subscribed) return;
    for (const set of this.waiters.values()) this.wake(set);
  };

  private readonly onError = (err: Error) => {
    this.logger.warn({ err: err.message }, 'job events subscriber error');
  };

  constructor(
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Subscribes; resolves once Redis confirmed it. While Redis is away this
   * stays pending (the subscriber connection queues the command), and the API
   * still serves everything but the wait itself.
   */
  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', this.onReady);
    this.subscriber.on('error', this.onError);
    await this.subscriber.subscribe(this.channel);
    this.subscribed = true;
  }

  register(jobId: string): JobWaiter {
    let wakeUp: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (wakeUp = resolve));
    let set = this.waiters.get(jobId);
    if (!set) this.waiters.set(jobId, (set = new Set()));
    set.add(wakeUp);

    const release = () => {
      const current = this.waiters.get(jobId);
      if (!current) return;
      current.delete(wakeUp);
      if (current.size === 0) this.waiters.delete(jobId);
    };

    return {
      release,
      until: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (this.closing || signal?.aborted || ms <= 0) return resolve();
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, ms);
          signal?.addEventListener('abort', done, { once: true });
          void woken.then(done);
        }),
    };
  }

  /** Set by {@link close}: waits end at once, so a shutdown is not held up by long-polls. */
  get closed(): boolean {
    return this.closing;
  }

  /** Requests waiting right now, over all jobs. */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** Wakes every waiter (they answer with what they have) and drops the subscription. */
  async close(): Promise<void> {
    this.closing = true;
    for (const set of this.waiters.values()) this.wake(set);
    this.waiters.clear();
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.onReady);
    this.subscriber.off('error', this.onError);
    // A Redis that stopped answering (frozen, cut off) still looks `ready` and would never reply:
    // the UNSUBSCRIBE is bounded, the connection is dropped after close anyway.
    if (this.subscribed && this.subscriber.status === 'ready') {
      await withRedisDeadline(this.subscriber.unsubscribe(this.channel), UNSUBSCRIBE_DEADLINE_MS).catch(() => undefined);
    }
  }

  private wake(set: Set<() => void> | undefined): void {
    if (set) for (const wakeUp of [...set]) wakeUp();
  }
}
