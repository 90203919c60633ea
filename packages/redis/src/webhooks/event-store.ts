import { createHash } from 'node:crypto';
import type { RedisClient } from '../connection';
import { LuaScript } from '../lua-script';
import { eventSourceOf, type RedisKeys } from '../keys';
import type { DeliveryStatus, EventDelivery, EventDetail, EventSummary } from '@broker/shared/webhooks/schema';

/** An event as verified by the api, before it is stored. */
export interface NewEvent {
  /** `<source>:<eventId>`. */
  id: string;
  source: string;
  eventId: string;
  type: string;
  receivedAt: Date;
  verifiedAt: Date;
  headers: Record<string, string>;
  body: Buffer;
}

export interface NewDelivery {
  deliveryId: string;
  trigger: string;
  replay: boolean;
  createdAt: string;
}

/** What the worker may change on a delivery. */
export interface DeliveryPatch {
  status: DeliveryStatus;
  attempts?: number;
  lastAttemptAt?: string;
  deliveredAt?: string;
  nextRetryAt?: string;
  lastStatus?: number;
  lastError?: string;
}

/** A pending delivery the outbox sweeper should enqueue. */
export interface OutboxEntry {
  eventId: string;
  deliveryId: string;
}

/** The stored event plus what the worker needs to send it. */
export interface StoredEvent extends EventDetail {
  rawBody: Buffer;
}

export interface ListQuery {
  /**
   * The sources to list: one for a filtered listing, every configured source
   * otherwise. Each source has its own indexes (one slot on a cluster); the
   * listing merges them.
   */
  sources: readonly string[];
  type?: string | undefined;
  /** ms since epoch, inclusive. */
  since?: number | undefined;
  /** ms since epoch, exclusive. */
  until?: number | undefined;
  limit: number;
  /** Where the previous page ended. */
  after?: ListPosition | undefined;
}

/** A place in an index: the receivedAt score and the id (ties are ordered by id). */
export interface ListPosition {
  score: number;
  id: string;
}

/*
 * Layout: one hash per event holds the raw event and, under `d:<deliveryId>:<field>`,
 * the state of each delivery, so `GET /v1/events/{id}` is one HGETALL and the
 * event, its dedupe key and its deliveries expire together. Per-field delivery
 * state lets the api and the worker write different fields without
 * read-modify-write races.
 *
 * Listing indexes exist per source only (all its events, and per type): a
 * listing across sources merges them (`list`), so an event costs one script
 * and no index outside its source's slot.
 *
 * Redis Cluster: every key a script touches carries the source's hash tag
 * (`{src:<source>}`: dedupe key, body key, event hash, the source's outbox and
 * its indexes), so each script runs on one node.
 */

/**
 * The claim on a raw body's SHA-256 (hex), for sources whose signature does
 * not cover the event id (GitHub, Shopify: docs/webhooks.md#source-types): its value is the id
 * of the event stored with that body. In the source's slot, beside its dedupe
 * keys, because the ingest script writes both. Built here rather than in
 * redisKeys because only the event store reads or writes it.
 */
export function webhookBodyKey(keys: RedisKeys, source: string, sha256Hex: string): string {
  return `${keys.prefix}:evt-body:{src:${source}}:${sha256Hex}`;
}

// KEYS: dedupe, event, outbox, correlation paths, source index, type index[, body]
// ARGV: ttlMs, scoreMs, id, outboxAt, oldestScore, n, deliveryId x n, field, value, ...
// Returns {0, id of the event already stored} for a duplicate (its event id
// claimed, or with KEYS[7] its body), else {1, path...}: the JSON paths async
// jobs wait on for this source and type. Both claims are read before either is
// written, so a duplicate claims nothing (a resent body's new delivery id
// must not point at an event that was never stored).
const INGEST = new LuaScript(`
local stored = redis.call('GET', KEYS[1])
if not stored and KEYS[7] then stored = redis.call('GET', KEYS[7]) end
if stored then return {0, stored} end
redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[1])
if KEYS[7] then redis.call('SET', KEYS[7], ARGV[3], 'NX', 'PX', ARGV[1]) end
redis.call('DEL', KEYS[2])
local n = tonumber(ARGV[6])
local fields = {}
for i = 7 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
for i = 1, n do redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6 + i] .. ':' .. ARGV[3]) end
for i = 5, 6 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
local created = redis.call('SMEMBERS', KEYS[4])
table.insert(created, 1, 1)
return created
`);

// KEYS: event, outbox. ARGV: id, outboxAt, n, deliveryId x n, field, value, ...
const ADD_DELIVERIES = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[3])
local fields = {}
for i = 4 + n, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
for i = 1, n do redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3 + i] .. ':' .. ARGV[1]) end
return 1
`);

// KEYS: event, outbox. ARGV: id, deliveryId... Only a delivery still pending becomes queued:
// the worker may already have moved it on.
const MARK_QUEUED = new LuaScript(`
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i] .. ':' .. ARGV[1])
  local field = 'd:' .. ARGV[i] .. ':status'
  if redis.call('HGET', KEYS[1], field) == 'pending' then redis.call('HSET', KEYS[1], field, 'queued') end
end
return 1
`);

// KEYS: event, outbox. ARGV: id, deliveryId, clear (comma list), field, value, ...
// Never recreates an expired event: a hash without the delivery is left alone.
const UPDATE_DELIVERY = new LuaScript(`
local p = 'd:' .. ARGV[2] .. ':'
if redis.call('HEXISTS', KEYS[1], p .. 'trigger') == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2] .. ':' .. ARGV[1])
if ARGV[3] ~= '' then
  for f in string.gmatch(ARGV[3], '[^,]+') do redis.call('HDEL', KEYS[1], p .. f) end
end
local fields = {}
for i = 4, #ARGV, 2 do
  fields[#fields + 1] = p .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
return 1
`);

const SUMMARY_FIELDS = ['id', 'source', 'eventId', 'type', 'receivedAt', 'verifiedAt'] as const;
const PATCH_FIELDS = ['attempts', 'lastAttemptAt', 'deliveredAt', 'nextRetryAt', 'lastStatus', 'lastError'] as const;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The raw body as text when it is valid UTF-8 (every JSON webhook), else base64: nothing is lost either way. */
function encodeBody(body: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  try {
    return { body: strictUtf8.decode(body), bodyEncoding: 'utf8' };
  } catch {
    return { body: body.toString('base64'), bodyEncoding: 'base64' };
  }
}

function deliveryFields(d: NewDelivery): string[] {
  const p = `d:${d.deliveryId}:`;
  return [`${p}trigger`, d.trigger, `${p}status`, 'pending', `${p}attempts`, '0', `${p}replay`, d.replay ? '1' : '0', `${p}createdAt`, d.createdAt];
}

function decodeDeliveries(hash: Record<string, string>): EventDelivery[] {
  const byId = new Map<string, Record<string, string>>();
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('d:')) continue;
    const sep = field.indexOf(':', 2);
    if (sep < 0) continue;
    const id = field.slice(2, sep);
    const props = byId.get(id) ?? {};
    props[field.slice(sep + 1)] = value;
    byId.set(id, props);
  }
  const deliveries: EventDelivery[] = [];
  for (const [deliveryId, p] of byId) {
    if (!p.trigger || !p.status) continue;
    const d: EventDelivery = {
      deliveryId,
      trigger: p.trigger,
      status: p.status as DeliveryStatus,
      attempts: Number(p.attempts ?? 0),
      replay: p.replay === '1',
      createdAt: p.createdAt ?? '',
    };
    if (p.lastAttemptAt) d.lastAttemptAt = p.lastAttemptAt;
    if (p.deliveredAt) d.deliveredAt = p.deliveredAt;
    if (p.nextRetryAt) d.nextRetryAt = p.nextRetryAt;
    if (p.lastStatus) d.lastStatus = Number(p.lastStatus);
    if (p.lastError) d.lastError = p.lastError;
    deliveries.push(d);
  }
  return deliveries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.deliveryId.localeCompare(b.deliveryId));
}

function parseHeaders(value: string | undefined): Record<string, string> {
  try {
    return value ? (JSON.parse(value) as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Webhook events in Redis. An event is claimed (dedupe), stored and indexed by
 * one script, so an acknowledged event is never half-written and 50
 * concurrent posts of one id store it once.
 */
export class EventStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * Claims the event id for `retentionMs` and writes the event, its pending
   * deliveries (also put in the outbox, due at `outboxAt`) and its index
   * entries (trimmed to the same retention: older entries point at expired
   * events). With `dedupeBody` the SHA-256 of the raw body is claimed too, for
   * the same retention, and a body already claimed is a duplicate whatever
   * the event id: for sources that do not sign their ids (docs/webhooks.md#source-types).
   *
   * A duplicate comes back with the id of the event already stored, and
   * nothing is written. A new event comes back with the JSON paths async jobs
   * wait on for its source and type (CorrelationStore.match), read in the
   * same script.
   */
  async ingest(
    event: NewEvent,
    deliveries: readonly NewDelivery[],
    options: {
      retentionMs: number;
      outboxAt: number;
      /** @defaultValue false */
      dedupeBody?: boolean;
    },
  ): Promise<{ duplicate: false; correlationPaths: string[] } | { duplicate: true; id: string }> {
    const score = event.receivedAt.getTime();
    const fields = [
      'id',
      event.id,
      'source',
      event.source,
      'eventId',
      event.eventId,
      'type',
      event.type,
      'receivedAt',
      event.receivedAt.toISOString(),
      'verifiedAt',
      event.verifiedAt.toISOString(),
      'headers',
      JSON.stringify(event.headers),
      ...Object.entries(encodeBody(event.body)).flat(),
      ...deliveries.flatMap(deliveryFields),
    ];
    const keys = [
      this.keys.webhookDedupe(event.source, event.eventId),
      this.keys.webhookEvent(event.id),
      this.keys.webhookOutbox(event.source),
      this.keys.correlationPaths(event.source, event.type),
      this.keys.webhookIndex({ source: event.source }),
      this.keys.webhookIndex({ source: event.source, type: event.type }),
    ];
    if (options.dedupeBody) keys.push(webhookBodyKey(this.keys, event.source, createHash('sha256').update(event.body).digest('hex')));
    const [created, ...rest] = await INGEST.run<[0, string] | [1, ...string[]]>(this.redis, keys, [
      String(options.retentionMs),
      String(score),
      event.id,
      String(options.outboxAt),
      String(score - options.retentionMs),
      String(deliveries.length),
      ...deliveries.map((d) => d.deliveryId),
      ...fields,
    ]);
    return created === 1 ? { duplicate: false, correlationPaths: rest } : { duplicate: true, id: rest[0] ?? event.id };
  }

  /** Adds deliveries (replays) to a stored event; `false` when the event is gone. */
  async addDeliveries(id: string, deliveries: readonly NewDelivery[], outboxAt: number): Promise<boolean> {
    const added = await ADD_DELIVERIES.run<number>(
      this.redis,
      [this.keys.webhookEvent(id), this.keys.webhookOutbox(eventSourceOf(id))],
      [id, String(outboxAt), String(deliveries.length), ...deliveries.map((d) => d.deliveryId), ...deliveries.flatMap(deliveryFields)],
    );
    return added === 1;
  }

  /** The deliveries are in BullMQ now: out of the outbox, and `queued` unless the worker got there first. */
  async markQueued(id: string, deliveryIds: readonly string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await MARK_QUEUED.run(this.redis, [this.keys.webhookEvent(id), this.keys.webhookOutbox(eventSourceOf(id))], [id, ...deliveryIds]);
  }

  /**
   * Records a delivery's progress: sets the fields of `patch`, deletes those in
   * `clear`. `false` when the event (or the delivery) is no longer stored.
   */
  async updateDelivery(id: string, deliveryId: string, patch: DeliveryPatch, clear: readonly (typeof PATCH_FIELDS)[number][] = []): Promise<boolean> {
    const set: string[] = ['status', patch.status];
    for (const field of PATCH_FIELDS) {
      const value = patch[field];
      if (value !== undefined) set.push(field, String(value));
    }
    const updated = await UPDATE_DELIVERY.run<number>(
      this.redis,
      [this.keys.webhookEvent(id), this.keys.webhookOutbox(eventSourceOf(id))],
      [id, deliveryId, clear.join(','), ...set],
    );
    return updated === 1;
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const hash = await this.redis.hgetall(this.keys.webhookEvent(id));
    if (!hash.id || !hash.source) return undefined;
    const bodyEncoding = hash.bodyEncoding === 'base64' ? 'base64' : 'utf8';
    const body = hash.body ?? '';
    return {
      id: hash.id,
      source: hash.source,
      eventId: hash.eventId ?? '',
      type: hash.type ?? '',
      receivedAt: hash.receivedAt ?? '',
      verifiedAt: hash.verifiedAt ?? '',
      headers: parseHeaders(hash.headers),
      body,
      bodyEncoding,
      deliveries: decodeDeliveries(hash),
      rawBody: Buffer.from(body, bodyEncoding),
    };
  }

  /** Outbox entries of `sources` due at `now` (up to `limit` per source): deliveries written but not handed to BullMQ. */
  async duePending(now: number, sources: readonly string[], limit = 100): Promise<OutboxEntry[]> {
    const perSource = await Promise.all(sources.map((source) => this.redis.zrangebyscore(this.keys.webhookOutbox(source), '-inf', now, 'LIMIT', 0, limit)));
    return perSource.flat().flatMap((member) => {
      // `dlv_<hex>` has no ':', the event id may: split at the first one.
      const sep = member.indexOf(':');
      return sep < 0 ? [] : [{ deliveryId: member.slice(0, sep), eventId: member.slice(sep + 1) }];
    });
  }

  /** What the sweeper needs of one delivery (a light read: not the body). */
  async deliveryInfo(entry: OutboxEntry): Promise<{ source: string; trigger: string; replay: boolean; status: DeliveryStatus } | undefined> {
    const p = `d:${entry.deliveryId}:`;
    const [source, trigger, replay, status] = await this.redis.hmget(this.keys.webhookEvent(entry.eventId), 'source', `${p}trigger`, `${p}replay`, `${p}status`);
    if (!source || !trigger || !status) return undefined;
    return { source, trigger, replay: replay === '1', status: status as DeliveryStatus };
  }

  /** Drops an outbox entry whose event or delivery is gone. */
  async dropFromOutbox(entry: OutboxEntry): Promise<void> {
    await this.redis.zrem(this.keys.webhookOutbox(eventSourceOf(entry.eventId)), `${entry.deliveryId}:${entry.eventId}`);
  }

  /**
   * One page of events, newest first (equal times by id, descending), merged
   * across `query.sources`. Ids whose event has expired are skipped (and
   * dropped from the index they were found in).
   */
  async list(query: ListQuery): Promise<{ events: EventSummary[]; next: ListPosition | null }> {
    const perSource = await Promise.all(query.sources.map((source) => this.listIndex(this.keys.webhookIndex({ source, type: query.type }), query)));
    // Each source gave its newest `limit + 1`: the merged newest `limit + 1` are among them.
    const found = perSource.flat().sort((a, b) => b.position.score - a.position.score || (a.position.id < b.position.id ? 1 : a.position.id > b.position.id ? -1 : 0));
    const page = found.slice(0, query.limit);
    const last = page[page.length - 1];
    return { events: page.map((f) => f.summary), next: found.length > query.limit && last ? last.position : null };
  }

  /** Up to `limit + 1` live events of one index, newest first, after the query's cursor. */
  private async listIndex(key: string, query: ListQuery): Promise<{ summary: EventSummary; position: ListPosition }[]> {
    const after = query.after;
    const max = after ? String(after.score) : query.until !== undefined ? `(${query.until}` : '+inf';
    const min = query.since !== undefined ? String(query.since) : '-inf';
    const batch = Math.max(query.limit + 1, 50);
    const found: { summary: EventSummary; position: ListPosition }[] = [];
    const stale: string[] = [];

    for (let offset = 0; found.length <= query.limit; offset += batch) {
      const raw = await this.redis.zrevrangebyscore(key, max, min, 'WITHSCORES', 'LIMIT', offset, batch);
      const positions: ListPosition[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const position = { id: raw[i]!, score: Number(raw[i + 1]) };
        // Equal scores come in reverse id order; those at or above the cursor's id were on earlier pages.
        if (after && position.score === after.score && position.id >= after.id) continue;
        positions.push(position);
      }
      if (positions.length > 0) {
        // The events of one source share its slot, but each is its own key:
        // concurrent commands still share round trips (and socket writes, see coalesceWrites).
        const rows = await Promise.all(positions.map((p) => this.redis.hmget(this.keys.webhookEvent(p.id), ...SUMMARY_FIELDS)));
        positions.forEach((position, i) => {
          const [id, source, eventId, type, receivedAt, verifiedAt] = rows[i] ?? [];
          if (!id || !source) {
            stale.push(position.id);
            return;
          }
          found.push({
            position,
            summary: { id, source, eventId: eventId ?? '', type: type ?? '', receivedAt: receivedAt ?? '', verifiedAt: verifiedAt ?? '' },
          });
        });
      }
      if (raw.length / 2 < batch) break;
    }
    if (stale.length > 0) await this.redis.zrem(key, ...stale);
    return found.slice(0, query.limit + 1);
  }
}
