import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisClient } from '../connection';
import type { RedisKeys } from '../keys';
import { LuaScript } from '../lua-script';
import { auditEntry, type AuditEntry, type AuditEvent, type AuditFacts } from '@broker/shared/audit/schema';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Entries one read may look at before it answers, whatever it found: a filter
 * (agent, tool) is applied while scanning the stream newest first, so a rare
 * agent's entries cost a scan; the page then comes back short (or empty) with
 * a `nextCursor` to go on from. Bounds the work and the memory of a request.
 * @defaultValue 5000
 */
export const AUDIT_SCAN_BUDGET = 5000;

/** Entries fetched per XREVRANGE while filtering. @defaultValue 500 */
const SCAN_CHUNK = 500;

/*
 * Layout of a stream entry: the same seven fields in the same order for every
 * entry, so Redis keeps the field names once per stream node (an entry then
 * costs its values only: about 176 bytes against 260 as one JSON field).
 * `t` is `at` in ms; `x` holds the optional facts as JSON ('' when none).
 * Renaming a field strands the entries already written.
 */
const FIELD_COUNT = 7;

function encode(entry: AuditEntry): string[] {
  const { at, event, jobId, agent, tool, connection, ...facts } = entry;
  const extra = Object.keys(facts).length > 0 ? JSON.stringify(facts) : '';
  return ['t', String(Date.parse(at)), 'e', event, 'j', jobId, 'a', agent, 'o', tool, 'c', connection, 'x', extra];
}

function decode(fields: string[]): AuditEntry | undefined {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const ms = Number(f.t);
  if (!f.e || !f.j || !Number.isFinite(ms)) return undefined;
  let facts: AuditFacts = {};
  if (f.x) {
    try {
      facts = JSON.parse(f.x) as AuditFacts;
    } catch {
      return undefined;
    }
  }
  return auditEntry(f.e as AuditEvent, { jobId: f.j, agent: f.a ?? '', tool: f.o ?? '', connection: f.c ?? '' }, facts, new Date(ms));
}

// KEYS: the stream. ARGV: the oldest id to keep ('' for no trimming), then each entry's 14 field/value strings.
// Several entries in one command, in order; each XADD trims approximately (whole nodes, bounded work).
const APPEND_MANY = new LuaScript(`
local n = ${FIELD_COUNT * 2}
for i = 2, #ARGV, n do
  if ARGV[1] == '' then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, i, i + n - 1))
  else
    redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', unpack(ARGV, i, i + n - 1))
  end
end
return (#ARGV - 1) / n
`);

export interface AuditTrailOptions {
  /**
   * Entries older than this are trimmed as new ones are written
   * (`retention.auditDays`). Absent: writes do not trim — for a process that
   * does not know the deployment's retention (the CLI), so it never cuts
   * entries the config means to keep.
   */
  retentionDays?: number;
  logger?: Logger;
  /** Counts entries that could not be written (broker_audit_write_failures_total). */
  metrics?: Pick<Metrics, 'auditWriteFailures'>;
  /** @defaultValue Date.now */
  now?: () => number;
  /** @defaultValue {@link AUDIT_SCAN_BUDGET} */
  scanBudget?: number;
}

export interface AuditQuery {
  /** Only this agent's jobs (exact). */
  agent?: string | undefined;
  /** Only these tools: a name, or a glob where `*` matches any run of characters (`stripe.*`). */
  tool?: string | undefined;
  /** Only entries of events at or after this (ms since epoch). */
  since?: number | undefined;
  limit: number;
  /** The position where the previous page ended (its `next`): older entries only. */
  after?: string | undefined;
}

export interface AuditRead {
  /** Newest first, in the order they were recorded. */
  entries: AuditEntry[];
  /** Where to go on from (a stream id); undefined when the scan reached the oldest entry in range. */
  next: string | undefined;
}

/** `*` matches any run of characters, everything else literally. */
function globMatcher(glob: string): (value: string) => boolean {
  if (!glob.includes('*')) return (value) => value === glob;
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${body}$`);
  return (value) => re.test(value);
}

/**
 * The audit trail (docs/guardrails.md#audit-trail): one Redis stream per
 * deployment prefix, appended to and never rewritten. Every write trims the
 * entries older than the retention (`XADD … MINID ~`: whole stream nodes, so
 * the work per write is bounded and the stream's size follows the traffic of
 * `retentionDays`, not the deployment's age). Reads page newest first with
 * XREVRANGE from an entry id.
 *
 * A write never fails its caller: the job is what matters, its trail comes
 * second. A failed write is logged and counted, and its entries are lost.
 */
export class AuditTrail {
  private readonly key: string;
  private readonly now: () => number;
  private readonly scanBudget: number;

  constructor(
    private readonly redis: RedisClient,
    keys: RedisKeys,
    private readonly options: AuditTrailOptions = {},
  ) {
    this.key = keys.auditTrail;
    this.now = options.now ?? Date.now;
    this.scanBudget = options.scanBudget ?? AUDIT_SCAN_BUDGET;
  }

  /** The oldest entry id the retention keeps at `now` ('' without a retention). */
  private oldestKept(now: number): string {
    const days = this.options.retentionDays;
    return days === undefined ? '' : String(Math.max(0, now - days * DAY_MS));
  }

  /**
   * Appends entries, in order, in one command (issued before this returns to
   * the event loop, so a caller that does not await it still has it sent
   * before its next command on the same connection). Resolves to whether they
   * were written; never rejects.
   */
  append(entries: AuditEntry | readonly AuditEntry[]): Promise<boolean> {
    const list = Array.isArray(entries) ? (entries as readonly AuditEntry[]) : [entries as AuditEntry];
    if (list.length === 0) return Promise.resolve(true);
    const minId = this.oldestKept(this.now());
    let sent: Promise<unknown>;
    try {
      if (list.length === 1) {
        const fields = encode(list[0]!);
        sent = minId === '' ? this.redis.xadd(this.key, '*', ...fields) : this.redis.xadd(this.key, 'MINID', '~', minId, '*', ...fields);
      } else {
        sent = APPEND_MANY.run(this.redis, [this.key], [minId, ...list.flatMap(encode)]);
      }
    } catch (err) {
      sent = Promise.reject(err);
    }
    return sent.then(
      () => true,
      (err: unknown) => {
        this.lost(list, err);
        return false;
      },
    );
  }

  private lost(entries: readonly AuditEntry[], err: unknown): void {
    for (const entry of entries) this.options.metrics?.auditWriteFailures.inc({ event: entry.event });
    this.options.logger?.warn(
      { err: err instanceof Error ? err.message : String(err), events: entries.map((e) => e.event), jobIds: [...new Set(entries.map((e) => e.jobId))] },
      'audit entries not written',
    );
  }

  /**
   * A page of entries, newest first. Filters are applied while scanning, at
   * most `scanBudget` entries per call: a page may come back short, even
   * empty, with `next` set — go on from there. `next` is undefined only when
   * the scan reached the oldest entry in range.
   */
  async read(query: AuditQuery): Promise<AuditRead> {
    const now = this.now();
    const floor = Math.max(query.since ?? 0, Number(this.oldestKept(now) || 0));
    const lower = floor > 0 ? `${floor}-0` : '-';
    const agentMatches = query.agent === undefined ? undefined : (agent: string) => agent === query.agent;
    const toolMatches = query.tool === undefined ? undefined : globMatcher(query.tool);
    const since = query.since;
    const filtered = agentMatches !== undefined || toolMatches !== undefined || since !== undefined;
    const matches = (e: AuditEntry) => (!agentMatches || agentMatches(e.agent)) && (!toolMatches || toolMatches(e.tool)) && (since === undefined || Date.parse(e.at) >= since);

    const entries: AuditEntry[] = [];
    let upper = query.after !== undefined ? `(${query.after}` : '+';
    let scanned = 0;
    for (;;) {
      const count = Math.min(filtered ? SCAN_CHUNK : query.limit - entries.length + 1, this.scanBudget - scanned);
      if (count <= 0) return { entries, next: upper === '+' ? undefined : upper.slice(1) };
      const batch = (await this.redis.xrevrange(this.key, upper, lower, 'COUNT', count)) as [string, string[]][];
      scanned += batch.length;
      for (let i = 0; i < batch.length; i++) {
        const [id, fields] = batch[i]!;
        const entry = decode(fields);
        if (!entry || !matches(entry)) continue;
        entries.push(entry);
        if (entries.length === query.limit) {
          // The page is full: there is more when the rest of this batch holds a match, or when the range goes on past it.
          const rest = batch.slice(i + 1);
          if (
            rest.some(([, f]) => {
              const e = decode(f);
              return e !== undefined && matches(e);
            })
          )
            return { entries, next: id };
          if (batch.length < count) return { entries, next: undefined };
          return { entries, next: batch[batch.length - 1]![0] };
        }
      }
      if (batch.length < count) return { entries, next: undefined };
      upper = `(${batch[batch.length - 1]![0]}`;
    }
  }

  /**
   * Removes every entry older than the retention at `now`, exactly (a write
   * trims only whole stream nodes). Returns how many it removed. Writes keep
   * the stream bounded by themselves; this is for tests and for an operator
   * who shortened the retention.
   */
  async trim(now: number = this.now()): Promise<number> {
    const minId = this.oldestKept(now);
    if (minId === '') return 0;
    return (await this.redis.xtrim(this.key, 'MINID', minId)) as number;
  }
}
