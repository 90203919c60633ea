import type { Queue } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { readCircuitStates } from '@broker/redis/limits/circuit-state';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import type { Alerter } from './alerter';

export interface AlertMonitorDeps {
  redis: RedisClient;
  keys: RedisKeys;
  alerter: Alerter;
  metrics: Metrics;
  logger: Logger;
  /** Integrations whose breakers are watched. */
  integrations: readonly string[];
  /** Queues whose failed sets (dead letters) are watched. */
  queues: () => readonly Queue[];
}

/**
 * Looks, every `alerts.checkIntervalMs`, at what no single job sees:
 * - a circuit breaker that has not closed for `alerts.circuitOpenMs` (across
 *   its open → half-open → open cycles; the first sighting is kept in Redis so
 *   every worker measures from the same moment);
 * - a queue's failed set growing by `alerts.deadLetterGrowth` within
 *   `alerts.windowMs` (from a baseline kept in Redis, reset each window).
 * It also refreshes `broker_circuit_open_seconds` and `broker_dead_letter_jobs`.
 */
export class AlertMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: AlertMonitorDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.check()
        .catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'alert monitor check failed'))
        .finally(() => (this.running = undefined));
    }, this.deps.alerter.settings.checkIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round of checks (the timer calls it; tests may too). */
  async check(now = Date.now()): Promise<void> {
    await Promise.all([this.checkCircuits(now), this.checkDeadLetters(now)]);
  }

  private async checkCircuits(now: number): Promise<void> {
    const { redis, keys, alerter, metrics, integrations } = this.deps;
    if (integrations.length === 0) return;
    const states = await readCircuitStates(redis, keys, integrations);
    /** Each open breaker's first sighting. One command per key, not one pipeline: on a Redis Cluster the keys live on different nodes. */
    const sinceAt = new Map<string, string | null>();
    await Promise.all(
      integrations.map(async (name) => {
        const sinceKey = keys.alertState(`circuit-since:${name}`);
        if (states.get(name)?.state === 'closed') {
          metrics.circuitOpenSeconds.set({ integration: name }, 0);
          await redis.del(sinceKey);
        } else {
          await redis.set(sinceKey, String(now), 'NX');
          sinceAt.set(name, await redis.get(sinceKey));
        }
      }),
    );
    for (const name of integrations) {
      if (!sinceAt.has(name)) continue;
      const since = Number(sinceAt.get(name) ?? now);
      const openMs = Math.max(0, now - since);
      metrics.circuitOpenSeconds.set({ integration: name }, openMs / 1000);
      if (openMs < alerter.settings.circuitOpenMs) continue;
      const state = states.get(name)!;
      void alerter.raise({
        kind: 'circuit_open',
        key: name,
        severity: 'critical',
        summary: `the circuit breaker of "${name}" has not closed for ${Math.round(openMs / 1000)} s: its jobs wait (deferred) until the upstream recovers`,
        details: {
          integration: name,
          state: state.state,
          openForMs: openMs,
          failures: state.failures,
          ...(state.openUntil ? { nextProbeAt: new Date(state.openUntil).toISOString() } : {}),
        },
      });
    }
  }

  private async checkDeadLetters(now: number): Promise<void> {
    const { redis, keys, alerter, metrics } = this.deps;
    const { windowMs, deadLetterGrowth } = alerter.settings;
    await Promise.all(
      this.deps.queues().map(async (queue) => {
        const failed = (await queue.getJobCounts('failed')).failed ?? 0;
        metrics.deadLetters.set({ queue: queue.name }, failed);
        const key = keys.alertState(`dead-letters:${queue.name}`);
        const [count, at] = await redis.hmget(key, 'count', 'at');
        const base = count === null ? undefined : { count: Number(count), at: Number(at) };
        const grown = base ? failed - base.count : 0;
        if (base && grown >= deadLetterGrowth) {
          void alerter.raise({
            kind: 'dead_letters',
            key: queue.name,
            severity: 'warning',
            summary: `${grown} more failed jobs in queue "${queue.name}" within ${Math.round((now - base.at) / 1000)} s (${failed} in all): see /admin/queues`,
            details: { queue: queue.name, failed, grown, sinceMs: now - base.at },
          });
        }
        if (!base || grown >= deadLetterGrowth || failed < base.count || now - base.at > windowMs) {
          await redis.hset(key, 'count', failed, 'at', now);
          await redis.pexpire(key, windowMs * 4);
        }
      }),
    );
  }
}
