/**
 * Every Redis key the broker writes outside BullMQ, under one prefix (BullMQ's
 * own keys use the same prefix), so tests and tenants can share one Redis.
 */
export function redisKeys(prefix: string) {
  return {
    prefix,
    job: (id: string) => `${prefix}:job:${id}`,
    idempotency: (agentId: string, keyHash: string) => `${prefix}:idem:${agentId}:${keyHash}`,
    /** Pub/sub channel: a job id is published when that job reaches a terminal state. */
    jobEvents: `${prefix}:job-events`,
    rateWindow: (integration: string) => `${prefix}:rl:${integration}`,
    connectionRateWindow: (integration: string, connection: string) => `${prefix}:rl:${integration}:conn:${connection}`,
    /** Set by a 429 or Retry-After: no call to the integration until it expires. */
    pause: (integration: string) => `${prefix}:pause:${integration}`,
    circuit: (integration: string) => `${prefix}:cb:${integration}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
