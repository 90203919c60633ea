import { Cluster, type Redis } from 'ioredis';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { RedisClient } from '@broker/redis/connection';
import { REDIS_DEADLINE_MS } from './deadline';

/** The longest a `WAIT` may take: under the producer's command timeout (1500 ms), inside the 2 s answer budget. @defaultValue 1400 */
export const REPLICA_WAIT_MAX_MS = 1400;
/** Below this much budget left, no replica could answer in time: 503 at once. @defaultValue 50 */
const REPLICA_WAIT_MIN_MS = 50;
/** The fence key expires this long after the last acknowledgement wrote it. @defaultValue 60000 */
const FENCE_TTL_MS = 60_000;

/** The 503's detail for a write the client can send again and get the same answer (a webhook, a keyed job). */
const RESEND_SAME =
  'The write is on the Redis primary but no replica confirmed it in time (durability "replicated"). Send the same request again (same event id or Idempotency-Key): it answers the same event or job.';

/** What {@link awaitReplica} needs of the api's context. */
export interface ReplicaContext {
  config: BrokerConfig;
  /** The producer connection, which carried the request's writes. */
  redis: RedisClient;
  /**
   * Any producer queue: the fence key goes under its prefix, which starts
   * with the deployment's (`<prefix>:{<queue>}`, see bullPrefix), as the
   * context carries no RedisKeys.
   */
  callbacks: { readonly opts: { readonly prefix?: string | undefined } };
}

/**
 * Taken when a request starts, before its first Redis command: the start
 * bounds the answer's 2 s budget, and the producer connection's socket tells
 * whether every command of the request went to the same server (see
 * {@link awaitReplica}).
 */
export interface ReplicaMark {
  readonly startedAt: number;
  readonly socket: unknown;
}

export function replicaMark(redis: RedisClient): ReplicaMark {
  return { startedAt: performance.now(), socket: (redis as Redis).stream };
}

export interface AwaitReplicaOptions {
  /** The 503's detail: what the client's next step is, given that the write is on the primary. @defaultValue {@link RESEND_SAME} */
  detail?: string;
  /** Budget to leave for work after a failed wait (withdrawing an unkeyed job). @defaultValue 0 */
  reserveMs?: number;
}

/**
 * `durability: "replicated"` (docs/operations.md#redis-failover-sentinel-and-replicated-durability):
 * an acknowledgement — a webhook's 200, a job's 202, a cancel, a decision, a
 * retry, a replay — is sent once at least one replica has everything the
 * request wrote or read, so a failover to that replica undoes nothing
 * acknowledged. No replica in time: 503 UNAVAILABLE with Retry-After (the
 * write stays on the primary; `detail` says what the client's retry gets).
 *
 * `WAIT` only counts a replica up to the last write made on its own
 * connection, and a request may have written nothing: a duplicate webhook, or
 * a replay of a job, answers what another connection (another api, before a
 * restart) wrote and may have answered 503 for. So a fence key is written on
 * the same connection right before the `WAIT`, in the same round trip:
 * replication is in order, so a replica that has the fence has everything the
 * primary had before it.
 *
 * After a reconnect, ioredis resends the commands that had no answer (the
 * fence and the `WAIT` included) to whatever server it reaches, which after a
 * failover is the promoted replica: it would confirm the fence at once
 * whatever it lost. So the socket must be the one of the request's start,
 * else the answer is the same 503.
 */
export async function awaitReplica(ctx: ReplicaContext, mark: ReplicaMark, options: AwaitReplicaOptions = {}): Promise<void> {
  if (ctx.config.durability !== 'replicated') return;
  const unconfirmed = () => new ProblemError('UNAVAILABLE', options.detail ?? RESEND_SAME, undefined, { 'Retry-After': '1' });
  const left = REDIS_DEADLINE_MS - (options.reserveMs ?? 0) - (performance.now() - mark.startedAt);
  const timeoutMs = Math.min(REPLICA_WAIT_MAX_MS, Math.floor(left));
  if (timeoutMs < REPLICA_WAIT_MIN_MS) throw unconfirmed();
  const primary = ctx.redis as Redis;
  // Sent in this order in one turn, so in one write: the WAIT covers the fence.
  const [, replicas] = await Promise.all([primary.set(fenceKey(ctx), '1', 'PX', FENCE_TTL_MS), primary.wait(1, timeoutMs)]);
  if (primary.stream !== mark.socket || replicas < 1) throw unconfirmed();
}

/** One key per deployment, rewritten by every acknowledgement. */
function fenceKey(ctx: ReplicaContext): string {
  return `${ctx.callbacks.opts.prefix ?? 'bull'}:replica-fence`;
}

/** `WAIT` counts the replicas of the node a connection talks to: a Cluster client has no one such node, so the mode is refused at start. */
export function assertDurabilitySupported(config: BrokerConfig, redis: RedisClient): void {
  if (config.durability === 'replicated' && redis instanceof Cluster) {
    throw new Error('durability "replicated" needs a single primary (plain or through Sentinel); with a Redis Cluster, use min-replicas-to-write on its nodes instead');
  }
}
