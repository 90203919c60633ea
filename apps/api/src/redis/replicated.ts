import { Cluster } from 'ioredis';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { RedisClient } from '@broker/redis/connection';
import { REDIS_DEADLINE_MS } from './deadline';

/** The longest a `WAIT` may take: under the producer's command timeout (1500 ms), inside the 2 s answer budget. @defaultValue 1400 */
export const REPLICA_WAIT_MAX_MS = 1400;
/** Below this much budget left, no replica could answer in time: 503 at once. @defaultValue 50 */
const REPLICA_WAIT_MIN_MS = 50;

/**
 * `durability: "replicated"` (docs/operations.md#redis-failover-sentinel-and-replicated-durability): the acknowledgement of a write —
 * a webhook's 200, a job's 202 — waits until at least one replica has every
 * write this connection made (`WAIT 1`), so a failover to that replica loses
 * nothing acknowledged. No replica in time: 503 UNAVAILABLE with
 * Retry-After; the write stays on the primary, so the client's retry with the
 * same event id or Idempotency-Key answers the same event or job (and waits
 * for a replica again). `startedAt` (performance.now() at the request's
 * start) bounds the wait so the answer still comes within 2 s.
 */
export async function awaitReplica(config: BrokerConfig, redis: RedisClient, startedAt: number): Promise<void> {
  if (config.durability !== 'replicated') return;
  const left = REDIS_DEADLINE_MS - (performance.now() - startedAt);
  const timeoutMs = Math.min(REPLICA_WAIT_MAX_MS, Math.floor(left));
  const replicas = timeoutMs >= REPLICA_WAIT_MIN_MS ? await (redis as Exclude<RedisClient, Cluster>).wait(1, timeoutMs) : 0;
  if (replicas < 1) {
    throw new ProblemError(
      'UNAVAILABLE',
      'The write is on the Redis primary but no replica confirmed it in time (durability "replicated"). Send the same request again (same event id or Idempotency-Key): it answers the same event or job.',
      undefined,
      { 'Retry-After': '1' },
    );
  }
}

/** `WAIT` counts the replicas of the node a connection talks to: a Cluster client has no one such node, so the mode is refused at start. */
export function assertDurabilitySupported(config: BrokerConfig, redis: RedisClient): void {
  if (config.durability === 'replicated' && redis instanceof Cluster) {
    throw new Error('durability "replicated" needs a single primary (plain or through Sentinel); with a Redis Cluster, use min-replicas-to-write on its nodes instead');
  }
}
