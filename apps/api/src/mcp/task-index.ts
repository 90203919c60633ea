import type { RedisClient, RedisKeys } from '@broker/shared';
import { withRedisDeadline } from '../redis/deadline';

/**
 * How many tasks one `tasks/list` page holds.
 * @defaultValue 20
 */
export const TASK_PAGE_SIZE = 20;

/**
 * Index entries older than this many job retentions are pruned when a task is
 * added: every job ends long before (held jobs expire, tries time out), and its
 * record is gone one retention after it ended, so only dead entries go.
 * @defaultValue 2
 */
const PRUNE_AFTER_RETENTIONS = 2;

export interface TaskPage {
  ids: string[];
  nextCursor?: string;
}

/** The position after the last task of a page: its createdAt (ms) and id. Opaque to clients. */
type Cursor = [score: number, id: string];

const encodeCursor = (cursor: Cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

function decodeCursor(raw: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'string') return [value[0], value[1]];
  } catch {
    // Falls through: any unreadable cursor is the same error.
  }
  throw new Error('Invalid cursor.');
}

/**
 * Which jobs are one agent's MCP tasks: a sorted set by creation time. The job
 * record stays the truth about each task (status, owner); the index only says
 * which of the agent's jobs were created as tasks, so `tasks/list` can page
 * through them (the job store has no per-agent listing), and `tasks/get`
 * serves exactly what `tasks/list` shows (the spec's rule: a task retrievable
 * by `tasks/get` MUST be retrievable by `tasks/list`).
 */
export class TaskIndex {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    keys: RedisKeys,
    agentId: string,
    private readonly retentionMs: number,
  ) {
    this.key = keys.mcpTasks(agentId);
  }

  async add(jobId: string, createdAt: string): Promise<void> {
    const now = Date.now();
    const horizon = PRUNE_AFTER_RETENTIONS * this.retentionMs;
    await withRedisDeadline(
      this.redis
        .multi()
        .zadd(this.key, Date.parse(createdAt) || now, jobId)
        .zremrangebyscore(this.key, '-inf', `(${now - horizon}`)
        .pexpire(this.key, horizon)
        .exec(),
    );
  }

  async has(jobId: string): Promise<boolean> {
    return (await withRedisDeadline(this.redis.zscore(this.key, jobId))) !== null;
  }

  /** Drops entries whose job record is gone (expired after its retention). */
  async remove(jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await withRedisDeadline(this.redis.zrem(this.key, ...jobIds));
  }

  /**
   * Newest first. The cursor names the last task of the previous page; if that
   * entry has gone since, the page starts after its creation time instead.
   */
  async page(cursor: string | undefined, size = TASK_PAGE_SIZE): Promise<TaskPage> {
    let start = 0;
    if (cursor !== undefined) {
      const [score, id] = decodeCursor(cursor);
      const rank = await withRedisDeadline(this.redis.zrevrank(this.key, id));
      start = rank !== null ? rank + 1 : await withRedisDeadline(this.redis.zcount(this.key, score, '+inf'));
    }
    // One more than a page: whether it came tells if there is a next page.
    const flat = await withRedisDeadline(this.redis.zrevrange(this.key, start, start + size, 'WITHSCORES'));
    const entries: Cursor[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([Number(flat[i + 1]), flat[i]!]);
    const ids = entries.slice(0, size).map(([, id]) => id);
    const last = entries[size - 1];
    return entries.length > size && last ? { ids, nextCursor: encodeCursor(last) } : { ids };
  }
}
