import { createHash } from 'node:crypto';

/**
 * The hash-slot tag of a job id: `job_` + 12 hex of slot tag + 20 random hex
 * (see newJobId). An id of another shape is its own tag.
 */
export function jobSlotTagOf(id: string): string {
  return /^job_([0-9a-f]{12})[0-9a-f]{20}$/.exec(id)?.[1] ?? id;
}

/**
 * The slot tag a job made with an idempotency key carries: derived from the
 * agent and the key's hash, so the job record and the idempotency key it is
 * created with in one script (JobStore CREATE) hash to one slot.
 */
export function idempotencySlotTag(agentId: string, keyHash: string): string {
  return createHash('sha256').update(`${agentId}\0${keyHash}`).digest('hex').slice(0, 12);
}

/** The source of a stored webhook event id (`<source>:<eventId>`; source names hold no ':'). */
export function eventSourceOf(id: string): string {
  const sep = id.indexOf(':');
  return sep < 0 ? id : id.slice(0, sep);
}

/**
 * Every Redis key the broker writes outside BullMQ, under one prefix (BullMQ's
 * own keys use the same prefix), so tests and tenants can share one Redis.
 *
 * Redis Cluster: a script or MULTI may only touch keys of one hash slot, so
 * the keys one script touches together share a hash tag (`{...}`): a job and
 * its idempotency key share the tag embedded in the job id; an integration's
 * pause and rate windows share `{int:<name>}`; a webhook source's dedupe keys,
 * events, outbox and per-source indexes share `{src:<source>}`; a connection's
 * OAuth hash, lock and fence share `{oauth:<integration>:<connection>}`. Tags
 * are per entity, so entities spread over the cluster's nodes.
 */
export function redisKeys(prefix: string) {
  return {
    prefix,
    job: (id: string) => `${prefix}:job:{${jobSlotTagOf(id)}}:${id}`,
    /** Same slot as the job its key made: its tag is `idempotencySlotTag(agentId, keyHash)`, which newJobId embeds. */
    idempotency: (agentId: string, keyHash: string) => `${prefix}:idem:{${idempotencySlotTag(agentId, keyHash)}}:${agentId}:${keyHash}`,
    /**
     * Sorted set of held job ids (`awaiting_approval`) by createdAt (ms), for
     * `GET /v1/approvals`. A listing aid only: the job record says whether a
     * job is held, and entries of jobs that are not are dropped when read.
     */
    approvals: `${prefix}:approvals`,
    /**
     * Sorted set of one agent's MCP task ids (job ids of task-augmented
     * `tools/call`s) by createdAt (ms), for `tasks/list`. Entries whose job
     * record has expired are dropped when read (apps/api/src/mcp/task-index.ts).
     */
    mcpTasks: (agentId: string) => `${prefix}:mcp-tasks:{mcp:${agentId}}`,
    /** Pub/sub channel: a job id is published when that job reaches a terminal state. */
    jobEvents: `${prefix}:job-events`,
    rateWindow: (integration: string) => `${prefix}:{int:${integration}}:rl`,
    connectionRateWindow: (integration: string, connection: string) => `${prefix}:{int:${integration}}:rl:conn:${connection}`,
    /** Set by a 429 or Retry-After: no call to the integration until it expires. */
    pause: (integration: string) => `${prefix}:{int:${integration}}:pause`,
    /** Set by a 429 on one connection's credential: no call with that credential until it expires. */
    connectionPause: (integration: string, connection: string) => `${prefix}:{int:${integration}}:pause:conn:${connection}`,
    circuit: (integration: string) => `${prefix}:cb:${integration}`,
    /** A webhook event id claimed for dedupe (`SET NX PX` with the source's retention). */
    webhookDedupe: (source: string, eventId: string) => `${prefix}:evt-seen:{src:${source}}:${eventId}`,
    /** Hash: a stored webhook event (raw body, headers, timestamps) and its deliveries' state. */
    webhookEvent: (id: string) => `${prefix}:evt:{src:${eventSourceOf(id)}}:${id}`,
    /**
     * Sorted sets of event ids by receivedAt (ms), for listing newest first:
     * a source's events, and a source's events of one type. They share the
     * source's slot (written by the ingest script); a listing across sources
     * merges them (EventStore.list).
     */
    webhookIndex: ({ source, type }: { source: string; type?: string | undefined }) =>
      type !== undefined ? `${prefix}:evt-idx:st:{src:${source}}:${type}` : `${prefix}:evt-idx:src:{src:${source}}`,
    /** Per source: sorted set `<deliveryId>:<event id>` by when to enqueue it if its request did not (outbox). */
    webhookOutbox: (source: string) => `${prefix}:evt-outbox:{src:${source}}`,
    /** Hash: a connection's OAuth tokens (sealed, AES-256-GCM) and their non-secret state. */
    oauthTokens: (integration: string, connection: string) => `${prefix}:oauth:{oauth:${integration}:${connection}}`,
    /** The refresh lock of one connection; its value is the holder's fencing token. */
    oauthLock: (integration: string, connection: string) => `${prefix}:oauth:{oauth:${integration}:${connection}}:lock`,
    /** The connection's counter that hands out fencing tokens (every token write takes a new one). */
    oauthFence: (integration: string, connection: string) => `${prefix}:oauth:{oauth:${integration}:${connection}}:fence`,
    /** A pending authorization request (connect → callback), single use, short TTL. */
    oauthState: (stateHash: string) => `${prefix}:oauth-state:${stateHash}`,
    /** Key prefix of the API's per-agent request counters (express-rate-limit's Redis store), one per window length. */
    apiRateLimit: (windowMs: number) => `${prefix}:api-rl:${windowMs}:`,
    /** Jobs one agent submitted on one UTC day (`YYYY-MM-DD`) under one `dailyJobCaps` glob; expires when the day ends. */
    dailyJobCount: (agentId: string, day: string, glob: string) => `${prefix}:job-cap:{cap:${agentId}:${day}}:${glob}`,
    /** Hash: per `spendCaps` entry (`<tools> <sum>`), what one agent's counted jobs of one UTC day add up to (limits/spend-reservations.ts). */
    spendTotals: (agentId: string, day: string) => `${prefix}:spend:{spend:${agentId}:${day}}:totals`,
    /** Hash: job id → what it reserved of each spend cap, while it can still be given back. Same slot as its totals. */
    spendJobs: (agentId: string, day: string) => `${prefix}:spend:{spend:${agentId}:${day}}:jobs`,
    /** A keyed request's reservation, marked for a few seconds so its concurrent duplicates are not counted again (SpendTwin). */
    spendTwin: (agentId: string, day: string, mark: string) => `${prefix}:spend:{spend:${agentId}:${day}}:twin:${mark}`,
    /** Hash: a waiting async job's integration, and the webhook event claimed for it (see CorrelationStore). */
    asyncWait: (jobId: string) => `${prefix}:async:${jobId}`,
    /** Set of job ids waiting for an event of `source`/`type` whose reference path holds `value`. */
    correlation: (source: string, type: string, value: string) => `${prefix}:correlation:{src:${source}}:${type}:${value}`,
    /**
     * Set of JSON paths waiting jobs read in events of `source`/`type`. In the
     * source's slot, with its value sets and the source's events: the ingest
     * script reads it, so an event nobody waits for costs no extra command.
     */
    correlationPaths: (source: string, type: string) => `${prefix}:correlation-paths:{src:${source}}:${type}`,
    /** Hash: deprecation notices an integration's answers carried, by API version. */
    deprecations: (integration: string) => `${prefix}:deprecations:${integration}`,
    /** Alert dedupe: the window of one cause (`SET NX PX`), its occurrence count, and once-only marks. */
    alertWindow: (cause: string) => `${prefix}:alert:window:{alert:${cause}}`,
    alertCount: (cause: string) => `${prefix}:alert:count:{alert:${cause}}`,
    alertOnce: (cause: string) => `${prefix}:alert:once:${cause}`,
    /** Monitor bookkeeping shared by workers (when a breaker was first seen open, a queue's dead-letter baseline). */
    alertState: (name: string) => `${prefix}:alert:state:${name}`,
    /**
     * Stream: the audit trail, append-only, trimmed by age on every write
     * (AuditTrail). One key for the deployment: newest-first paging needs one
     * order, and each write touches only this key (one slot on a cluster).
     */
    auditTrail: `${prefix}:audit`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
