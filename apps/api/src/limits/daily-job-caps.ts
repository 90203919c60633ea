import { LuaScript } from '@broker/redis/lua-script';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { RedisKeys } from '@broker/redis/keys';
import type { RedisClient } from '@broker/redis/connection';
import { globToRegExp } from '../auth/scopes';

/*
 * KEYS: the day's counter of each cap that matches the tool (one hash slot,
 * `{cap:<agent>:<day>}`, so this runs on a Redis Cluster).
 * ARGV[1]: when the day ends (ms since epoch); ARGV[2..]: each counter's cap.
 * Returns 0 when the job was counted, or i >= 1 when the cap KEYS[i] is
 * reached (nothing counted). Check-all-then-count in one script: concurrent
 * submissions can never pass a cap together.
 */
const RESERVE = new LuaScript(`
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i + 1]) then return i end
end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIREAT', KEYS[i], ARGV[1])
end
return 0
`);

// KEYS: the counters a reservation took. Gives the slot back (never below 0).
const RELEASE = new LuaScript(`
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`);

interface Cap {
  glob: string;
  matches: (tool: string) => boolean;
  max: number;
}

/** A counted job; `release` gives the slot back when no job came of it. */
export interface DailyJobReservation {
  release(): Promise<void>;
}

const NOTHING: DailyJobReservation = { release: async () => undefined };

/** The next 00:00 UTC after `now`. */
export function endOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

/**
 * Cost guard (docs/guardrails.md "Daily job caps"): `agents[].dailyJobCaps` caps the jobs an
 * agent may submit per UTC day, by tool glob. Checked at submit after the
 * request is validated and before anything else is written; a job over a cap
 * is 429 `RATE_LIMITED` with `Retry-After` until midnight UTC. The counters
 * live in Redis (shared by every API process) under keys named after the day,
 * which expire when it ends.
 */
export class DailyJobCaps {
  private readonly caps: Map<string, Cap[]>;

  constructor(
    config: BrokerConfig,
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.caps = new Map(
      config.agents
        .filter((a) => a.dailyJobCaps && Object.keys(a.dailyJobCaps).length > 0)
        .map((a) => [
          a.id,
          Object.entries(a.dailyJobCaps ?? {}).map(([glob, max]) => ({
            glob,
            max,
            matches: (
              (re) => (tool: string) =>
                re.test(tool)
            )(globToRegExp(glob)),
          })),
        ]),
    );
  }

  /**
   * Counts one job of `tool` for `agentId` against every cap that matches it,
   * or throws 429 when one is reached. With `idempotencyKeyHash` (as the job
   * store claims it) a request whose key is already known counts nothing: it
   * replays a job that was counted when it was made.
   */
  async reserve(agentId: string, tool: string, idempotencyKeyHash?: string): Promise<DailyJobReservation> {
    const caps = (this.caps.get(agentId) ?? []).filter((c) => c.matches(tool));
    if (caps.length === 0) return NOTHING;
    const now = this.now();
    const day = now.toISOString().slice(0, 10);
    const resetAt = endOfUtcDay(now);
    const counters = caps.map((c) => this.keys.dailyJobCount(agentId, day, c.glob));
    // A known idempotency key (a replay, or a reuse the store will refuse) makes no job, so counts nothing.
    // Checked apart from the script: the key lives in its job's hash slot, not the counters'. No weaker
    // than inside it: concurrent duplicates could pass together before either wrote its key, and a
    // submission that makes no job gives its count back (submit.ts).
    if (idempotencyKeyHash !== undefined && (await this.redis.exists(this.keys.idempotency(agentId, idempotencyKeyHash))) === 1) return NOTHING;
    const outcome = await RESERVE.run<number>(this.redis, counters, [resetAt.getTime(), ...caps.map((c) => c.max)]);
    if (outcome > 0) {
      const cap = caps[outcome - 1]!;
      const retryAfter = Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000));
      this.logger.info({ agent: agentId, tool, glob: cap.glob, cap: cap.max }, 'daily job cap reached');
      throw new ProblemError(
        'RATE_LIMITED',
        `Daily cap reached: agent "${agentId}" may submit ${cap.max} job(s) of "${cap.glob}" per UTC day; it resets at ${resetAt.toISOString()}.`,
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
    return { release: () => RELEASE.run(this.redis, counters, []).then(() => undefined) };
  }
}
