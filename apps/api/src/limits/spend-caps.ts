import { giveBackSpend, reserveSpend, spendCapId, type SpendCharge, type SpendJob } from '@broker/redis/limits/spend-reservations';
import { ProblemError, type FieldError } from '@broker/shared/errors/problem';
import { readJsonPointer } from '@broker/shared/json/json-pointer';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { RedisClient } from '@broker/redis/connection';
import type { RedisKeys } from '@broker/redis/keys';
import { globToRegExp } from '../auth/scopes';
import { endOfUtcDay } from './daily-job-caps';

interface Cap {
  id: string;
  tools: string;
  /** JSON pointer into the submitted body. */
  sum: string;
  max: number;
  matches: (tool: string) => boolean;
}

/** What one job would spend under one of its agent's caps. */
export interface SpendChargeOf extends SpendCharge {
  tools: string;
  sum: string;
}

/** The amounts a job would spend (`charges`), or why they cannot be read (`errors`, one per cap). */
export interface SpendMeasure {
  charges: SpendChargeOf[];
  errors: FieldError[];
}

/**
 * A job's reservation: `spendDay` goes on its record and data; `release`
 * gives it back when no job came of the request. `replayed`: the request's
 * key turned out to belong to a job a concurrent duplicate created, which
 * passed on this reservation (see SpendTwin): it stays counted.
 */
export interface SpendReservation {
  /** Absent when nothing was reserved (no cap matched, a replay, a concurrent duplicate's reservation). */
  spendDay?: string;
  release(replayed?: boolean): Promise<void>;
}

/**
 * How long a keyed request's reservation stands for its concurrent
 * duplicates: they arrive together, and are answered within the Redis
 * deadline. Never longer than the key itself is remembered.
 * @defaultValue 10000
 */
export const SPEND_TWIN_WINDOW_MS = 10_000;

const NOTHING: SpendReservation = { release: async () => undefined };

const NO_CHARGES: SpendMeasure = { charges: [], errors: [] };

/** What a Stripe-like amount is: a JSON number, finite, not negative. */
function isAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Spend guard (`agents[].spendCaps`, docs/guardrails.md#spend-caps): the
 * sum of one field of the submitted body (`sum`, e.g. `/input/amount`) over
 * an agent's accepted jobs of the tools `tools` matches, per UTC day, never
 * exceeds `max`. Each job's amounts are reserved at submit, atomically with
 * the check (one script for every cap the job falls under: all or none),
 * before anything is written; the ledger lives in Redis
 * (limits/spend-reservations.ts in @broker/redis) and is shared by every
 * API and worker. A job over a cap is 429 `BUDGET_EXCEEDED` with
 * `Retry-After` until midnight UTC.
 */
export class SpendCaps {
  private readonly caps: Map<string, Cap[]>;
  private readonly twinWindowMs: number;

  constructor(
    config: BrokerConfig,
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.caps = new Map(
      config.agents
        .filter((a) => a.spendCaps && a.spendCaps.length > 0)
        .map((a) => [
          a.id,
          (a.spendCaps ?? []).map((c) => {
            const re = globToRegExp(c.tools);
            return { id: spendCapId(c), tools: c.tools, sum: c.sum, max: c.max, matches: (tool: string) => re.test(tool) };
          }),
        ]),
    );
    this.twinWindowMs = Math.min(SPEND_TWIN_WINDOW_MS, config.retention.idempotencySeconds * 1000);
  }

  /**
   * Reads what a job of `tool` would spend under each of the agent's caps
   * that match it, from the submitted `body`. A capped tool's amount must be
   * a JSON number ≥ 0: missing or anything else is a field error at the
   * cap's pointer (the cap could not be enforced otherwise), reported with
   * the request's other validation errors (422).
   */
  measure(agentId: string, tool: string, body: unknown): SpendMeasure {
    const caps = (this.caps.get(agentId) ?? []).filter((c) => c.matches(tool));
    if (caps.length === 0) return NO_CHARGES;
    const measure: SpendMeasure = { charges: [], errors: [] };
    for (const cap of caps) {
      const amount = readJsonPointer(body, cap.sum);
      if (isAmount(amount)) measure.charges.push({ cap: cap.id, amount, max: cap.max, tools: cap.tools, sum: cap.sum });
      else if (!measure.errors.some((e) => e.pointer === cap.sum)) {
        measure.errors.push({
          pointer: cap.sum,
          message:
            amount === undefined
              ? `is required: "${tool}" is under a spend cap that sums this field (a number ≥ 0)`
              : `must be a number ≥ 0: "${tool}" is under a spend cap that sums this field`,
        });
      }
    }
    return measure;
  }

  /**
   * Counts the job's `charges` (from {@link measure}) against today's totals,
   * all or none, or throws 429 `BUDGET_EXCEEDED` naming the first cap that
   * would be exceeded. `at` is the job's `createdAt`, so the day on its
   * record is the day its amounts were counted on. With `claim` (the
   * Idempotency-Key hash and request fingerprint, as the job store claims
   * them) a request whose key is already known counts nothing: it replays a
   * job that was counted when it was made; and of concurrent duplicates, one
   * reserves and the others pass on its reservation (SpendTwin), so none of
   * them is refused for the others' amounts.
   */
  async reserve(agentId: string, jobId: string, charges: readonly SpendChargeOf[], at: Date, claim?: { key: string; fingerprint: string }): Promise<SpendReservation> {
    if (charges.length === 0) return NOTHING;
    // As for the daily job caps (see DailyJobCaps.reserve): a known key makes no job.
    if (claim && (await this.redis.exists(this.keys.idempotency(agentId, claim.key))) === 1) return NOTHING;
    const day = at.toISOString().slice(0, 10);
    const twin = claim ? { mark: `${claim.key}:${claim.fingerprint}`, windowMs: this.twinWindowMs } : undefined;
    const outcome = await reserveSpend(this.redis, this.keys, agentId, day, jobId, charges, twin);
    if (outcome.kind === 'exceeded') throw this.exceeded(agentId, charges[outcome.index]!, outcome.spent, endOfUtcDay(at));
    // Should this request create the job after all, it runs uncommitted: the duplicate's amounts stay counted for the day.
    if (outcome.kind === 'twin') return NOTHING;
    return {
      spendDay: day,
      release: async (replayed = false) => {
        if (replayed && claim) return;
        // No job came of it: the twin mark goes too, or this request's retry would pass as its own twin, uncounted.
        await giveBackSpend(this.redis, this.keys, { id: jobId, agentId, spendDay: day }, twin?.mark);
      },
    };
  }

  /**
   * Gives a job's amounts back to its agent's day (a cancel, a denied or
   * expired hold) unless a try of it already sent a request: giveBackSpend
   * with this api's Redis. A job under no cap costs nothing.
   */
  giveBack(job: SpendJob): Promise<boolean> {
    return giveBackSpend(this.redis, this.keys, job);
  }

  private exceeded(agentId: string, charge: SpendChargeOf, spent: number, resetAt: Date): ProblemError {
    const retryAfter = Math.max(1, Math.ceil((resetAt.getTime() - this.now().getTime()) / 1000));
    this.logger.info({ agent: agentId, tools: charge.tools, sum: charge.sum, max: charge.max, spent, amount: charge.amount }, 'spend cap reached');
    const room = Math.max(0, charge.max - spent);
    return new ProblemError(
      'BUDGET_EXCEEDED',
      `Spend cap reached: agent "${agentId}" may spend at most ${charge.max} (the sum of ${charge.sum}) on "${charge.tools}" per UTC day; ` +
        `${spent} is spent so far today and this job's amount is ${charge.amount}${room > 0 ? ` (${room} is left)` : ''}. It resets at ${resetAt.toISOString()}.`,
      [{ pointer: charge.sum, message: `${charge.amount} would bring today's total for "${charge.tools}" to ${spent + charge.amount}, over its max ${charge.max}` }],
      { 'Retry-After': String(retryAfter) },
    );
  }
}
