import { createHash } from 'node:crypto';
import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';
import { LuaScript } from '../lua-script';
import { readJsonPath, scalarText } from '@broker/shared/async/json-path';
import type { AsyncWait } from '@broker/shared/async/wait-state';

/*
 * Webhook correlation for async tools. A waiting job registers, under its
 * source and each event type it waits for, the JSON path of the reference in
 * such an event and the reference's value:
 *
 *   correlation-paths:<source>:<type>          set of paths in use
 *   correlation:<source>:<type>:<value>        set of job ids waiting on it
 *   async:<jobId>                              hash: integration, and the event once one matched
 *
 * The api, after storing a verified event, reads the paths for its source and
 * type, looks up the values the event has there, and claims each waiting job
 * (first event wins) before waking it. Every key expires after the wait's
 * deadline, so a job that vanished leaves nothing behind.
 */

/*
 * Redis Cluster: a source's paths sets and value sets share the source's hash
 * tag `{src:<source>}` (with its events: the ingest script reads the paths
 * set); the wait hash lives in the job's own slot. So
 * REGISTER runs once per event type, after the wait hash is written: a job is
 * findable only once the hash a claim needs exists, and a worker that dies
 * half-way registers again on its retry (registering is idempotent).
 */

// KEYS: paths set, value set (one source and type). ARGV: ttlMs, jobId, path.
const REGISTER = new LuaScript(`
local ttl = tonumber(ARGV[1])
local function expire(key)
  local left = redis.call('PTTL', key)
  if left < ttl then redis.call('PEXPIRE', key, ttl) end
end
redis.call('SADD', KEYS[1], ARGV[3])
expire(KEYS[1])
redis.call('SADD', KEYS[2], ARGV[2])
expire(KEYS[2])
return 1
`);

// KEYS: wait hash. ARGV: stored event id, event type. The first matching event wins.
const CLAIM = new LuaScript(`
local integration = redis.call('HGET', KEYS[1], 'integration')
if not integration then return false end
if redis.call('HSETNX', KEYS[1], 'event', ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'eventType', ARGV[2])
return integration
`);

/** A long reference is hashed, so a key never grows past Redis' comfort. */
function valueKeyPart(value: string): string {
  return value.length <= 200 ? value : `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

/** After its deadline a wait's keys live this much longer, for the worker's last look. */
const TTL_MARGIN_MS = 10 * 60 * 1000;

export interface CorrelatedJob {
  jobId: string;
  integration: string;
}

export class CorrelationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** Makes a waiting job findable by the events it waits for (success and failure types). Idempotent. */
  async register(jobId: string, integration: string, wait: Pick<AsyncWait, 'reference' | 'deadline' | 'webhook'>, now = Date.now()): Promise<void> {
    const webhook = wait.webhook;
    const ttlMs = Math.max(1000, wait.deadline - now) + TTL_MARGIN_MS;
    const waitKey = this.keys.asyncWait(jobId);
    await this.redis.multi().hset(waitKey, 'integration', integration, 'reference', wait.reference).pexpire(waitKey, ttlMs).exec();
    await Promise.all(
      (webhook ? [...webhook.events, ...webhook.failEvents] : []).map((type) =>
        REGISTER.run(
          this.redis,
          [this.keys.correlationPaths(webhook!.source, type), this.keys.correlation(webhook!.source, type, valueKeyPart(wait.reference))],
          [String(ttlMs), jobId, webhook!.path],
        ),
      ),
    );
  }

  /** The event claimed for a waiting job, if one matched. */
  async claimedEvent(jobId: string): Promise<{ eventId: string; type: string } | undefined> {
    const [eventId, type] = await this.redis.hmget(this.keys.asyncWait(jobId), 'event', 'eventType');
    return eventId ? { eventId, type: type ?? '' } : undefined;
  }

  /** Claims a waiting job for an event; the job's integration, or undefined when it waits no more or another event won. */
  async claim(jobId: string, eventId: string, type: string): Promise<string | undefined> {
    const integration = await CLAIM.run<string | null>(this.redis, [this.keys.asyncWait(jobId)], [eventId, type]);
    return integration ?? undefined;
  }

  /**
   * The waiting jobs a stored event completes, each claimed for it; `paths`
   * are the members of its source and type's paths set (the ingest script
   * returns them, see EventStore.ingest). Nothing to do when no
   * job waits on this source and type (the common case).
   */
  async match(source: string, type: string, eventId: string, body: unknown, paths: readonly string[]): Promise<CorrelatedJob[]> {
    const values = new Set<string>();
    for (const path of paths) {
      let value: string | undefined;
      try {
        value = scalarText(readJsonPath(body, path));
      } catch {
        continue; // a path outside the dialect cannot have been registered by us
      }
      if (value !== undefined) values.add(value);
    }
    if (values.size === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const value of values) pipeline.smembers(this.keys.correlation(source, type, valueKeyPart(value)));
    const jobIds = new Set<string>();
    for (const [err, members] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      for (const id of members as string[]) jobIds.add(id);
    }
    const matched: CorrelatedJob[] = [];
    for (const jobId of jobIds) {
      const integration = await this.claim(jobId, eventId, type);
      if (integration) matched.push({ jobId, integration });
    }
    return matched;
  }

  /** Forgets a wait that ended. The paths set is shared with other waits and expires on its own. */
  async release(jobId: string, wait: Pick<AsyncWait, 'reference' | 'webhook'>): Promise<void> {
    // Separate commands (the keys span slots); each removal stands alone and every key expires anyway.
    const webhook = wait.webhook;
    await Promise.all([
      this.redis.del(this.keys.asyncWait(jobId)),
      ...(webhook ? [...webhook.events, ...webhook.failEvents] : []).map((type) =>
        this.redis.srem(this.keys.correlation(webhook!.source, type, valueKeyPart(wait.reference)), jobId),
      ),
    ]);
  }
}
