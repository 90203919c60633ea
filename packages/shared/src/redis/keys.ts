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
    /** A webhook event id claimed for dedupe (`SET NX PX` with the source's retention). */
    webhookDedupe: (source: string, eventId: string) => `${prefix}:evt-seen:${source}:${eventId}`,
    /** Hash: a stored webhook event (raw body, headers, timestamps) and its deliveries' state. */
    webhookEvent: (id: string) => `${prefix}:evt:${id}`,
    /** Sorted sets of event ids by receivedAt (ms), for listing newest first. */
    webhookIndex: ({ source, type }: { source?: string | undefined; type?: string | undefined }) =>
      source !== undefined && type !== undefined
        ? `${prefix}:evt-idx:st:${source}:${type}`
        : source !== undefined
          ? `${prefix}:evt-idx:src:${source}`
          : type !== undefined
            ? `${prefix}:evt-idx:type:${type}`
            : `${prefix}:evt-idx:all`,
    /** Sorted set `<deliveryId>:<event id>` by when to enqueue it if its request did not (outbox). */
    webhookOutbox: `${prefix}:evt-outbox`,
    /** Hash: a connection's OAuth tokens (sealed, AES-256-GCM) and their non-secret state. */
    oauthTokens: (integration: string, connection: string) => `${prefix}:oauth:${integration}:${connection}`,
    /** The refresh lock of one connection; its value is the holder's fencing token. */
    oauthLock: (integration: string, connection: string) => `${prefix}:oauth:${integration}:${connection}:lock`,
    /** Counter that hands out fencing tokens (every token write takes a new one). */
    oauthFence: `${prefix}:oauth-fence`,
    /** A pending authorization request (connect → callback), single use, short TTL. */
    oauthState: (stateHash: string) => `${prefix}:oauth-state:${stateHash}`,
    /** Key prefix of the API's per-agent request counters (express-rate-limit's Redis store), one per window length. */
    apiRateLimit: (windowMs: number) => `${prefix}:api-rl:${windowMs}:`,
    /** Jobs one agent submitted on one UTC day (`YYYY-MM-DD`) under one `dailyJobCaps` glob; expires when the day ends. */
    dailyJobCount: (agentId: string, day: string, glob: string) => `${prefix}:job-cap:${agentId}:${day}:${glob}`,
    /** Hash: a waiting async job's integration, and the webhook event claimed for it (see CorrelationStore). */
    asyncWait: (jobId: string) => `${prefix}:async:${jobId}`,
    /** Set of job ids waiting for an event of `source`/`type` whose reference path holds `value`. */
    correlation: (source: string, type: string, value: string) => `${prefix}:correlation:${source}:${type}:${value}`,
    /** Set of JSON paths waiting jobs read in events of `source`/`type`. */
    correlationPaths: (source: string, type: string) => `${prefix}:correlation-paths:${source}:${type}`,
    /** Hash: deprecation notices an integration's answers carried, by API version. */
    deprecations: (integration: string) => `${prefix}:deprecations:${integration}`,
    /** Alert dedupe: the window of one cause (`SET NX PX`), its occurrence count, and once-only marks. */
    alertWindow: (cause: string) => `${prefix}:alert:window:${cause}`,
    alertCount: (cause: string) => `${prefix}:alert:count:${cause}`,
    alertOnce: (cause: string) => `${prefix}:alert:once:${cause}`,
    /** Monitor bookkeeping shared by workers (when a breaker was first seen open, a queue's dead-letter baseline). */
    alertState: (name: string) => `${prefix}:alert:state:${name}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
