import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { MAX_APPROVAL_TIMEOUT_SECONDS } from '@broker/shared/config/guardrails-schema';
import { MAX_ASYNC_DEADLINE_MS } from '@broker/shared/config/async-schema';
import type { RedisClient } from '@broker/redis/connection';
import type { RedisKeys } from '@broker/redis/keys';
import { withRedisDeadline } from '../redis/deadline';

/**
 * How many tasks one `tasks/list` page holds.
 * @defaultValue 20
 */
export const TASK_PAGE_SIZE = 20;

/**
 * The most entries one agent's task index keeps: adding a task beyond it drops
 * the oldest entries (their jobs stay readable with `tasks/get`; they are only
 * no longer listed). Entries are never dropped for their age: a job held for
 * approval or retried can outlive any fixed horizon, so the index forgets an
 * entry only when a read finds its job record gone, or past this cap.
 * @defaultValue 10000
 */
export const TASK_INDEX_CAP = 10_000;

/**
 * How long an agent's index outlives its latest task: the job record's
 * retention after the longest a job can stay alive (the longest approval hold,
 * then the longest async deadline), both the config schema's maxima. Refreshed
 * each time a task is added, so the key only expires once every job it names
 * is gone (a job retried after that is served by `tasks/get`, not listed).
 */
export function taskIndexTtlMs(retentionMs: number): number {
  return retentionMs + MAX_APPROVAL_TIMEOUT_SECONDS * 1000 + MAX_ASYNC_DEADLINE_MS;
}

export interface TaskPage {
  ids: string[];
  nextCursor?: string;
}

/** The position after the last task of a page: its score (createdAt, ms) and id. Opaque to clients. */
type Cursor = [score: number, id: string];

const encodeCursor = (cursor: Cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

/** A cursor tasks/list did not hand out: the spec's `-32602`. */
const invalidCursor = () => new McpError(ErrorCode.InvalidParams, 'Invalid cursor: pass the nextCursor of an earlier tasks/list answer.');

function decodeCursor(raw: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') return [value[0] as number, value[1]];
  } catch {
    // Falls through: any unreadable cursor is the same error.
  }
  throw invalidCursor();
}

/** Pairs of a WITHSCORES reply. */
function entriesOf(flat: string[]): Cursor[] {
  const entries: Cursor[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) entries.push([Number(flat[i + 1]), flat[i]!]);
  return entries;
}

/**
 * Which jobs are one agent's MCP tasks, for `tasks/list` (the job store has
 * no per-agent listing): a sorted set of job ids scored by creation time (ms).
 * The job record stays the truth about each task (status, owner), and says
 * itself that it is a task (`via: "mcp-task"`), so a missing entry (its write
 * failed after the job was queued) only keeps the task out of the list.
 * Order: newest first, ties (the same millisecond) by id, descending.
 */
export class TaskIndex {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    keys: RedisKeys,
    agentId: string,
    private readonly retentionMs: number,
    /** {@link TASK_INDEX_CAP}; smaller in tests. */
    private readonly cap = TASK_INDEX_CAP,
  ) {
    this.key = keys.mcpTasks(agentId);
  }

  /** Adds the task, keeps the newest `cap` ({@link TASK_INDEX_CAP}) entries, and refreshes the key's expiry. Throws when any of it failed. */
  async add(jobId: string, createdAt: string): Promise<void> {
    const replies = await withRedisDeadline(
      this.redis
        .multi()
        .zadd(this.key, Date.parse(createdAt) || Date.now(), jobId)
        .zremrangebyrank(this.key, 0, -(this.cap + 1))
        .pexpire(this.key, taskIndexTtlMs(this.retentionMs))
        .exec(),
    );
    // null: the transaction was aborted; otherwise each command's own error, if any.
    if (!replies) throw new Error('the task index transaction was aborted');
    const failed = replies.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async has(jobId: string): Promise<boolean> {
    return (await withRedisDeadline(this.redis.zscore(this.key, jobId))) !== null;
  }

  /** Drops entries whose job record a read found gone (expired after its retention). */
  async remove(jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await withRedisDeadline(this.redis.zrem(this.key, ...jobIds));
  }

  /**
   * Newest first, ties by id descending. The cursor is the (score, id) of the
   * previous page's last task: the page goes on strictly after it in that
   * order, whether or not that entry is still there, so tasks created in the
   * same millisecond are neither skipped nor repeated.
   */
  async page(cursor: string | undefined, size = TASK_PAGE_SIZE): Promise<TaskPage> {
    // One more than a page: whether it came tells if there is a next page.
    const want = size + 1;
    let entries: Cursor[];
    if (cursor === undefined) {
      entries = entriesOf(await withRedisDeadline(this.redis.zrevrange(this.key, 0, want - 1, 'WITHSCORES')));
    } else {
      const [score, id] = decodeCursor(cursor);
      // Same millisecond as the cursor, after it by id; then everything older.
      const tied = (await withRedisDeadline(this.redis.zrevrangebyscore(this.key, score, score)))
        .filter((member) => member < id)
        .slice(0, want)
        .map((member): Cursor => [score, member]);
      const older =
        tied.length < want ? entriesOf(await withRedisDeadline(this.redis.zrevrangebyscore(this.key, `(${score}`, '-inf', 'WITHSCORES', 'LIMIT', 0, want - tied.length))) : [];
      entries = [...tied, ...older];
    }
    const ids = entries.slice(0, size).map(([, id]) => id);
    const last = entries[size - 1];
    return entries.length > size && last ? { ids, nextCursor: encodeCursor(last) } : { ids };
  }
}
