import type { Logger } from '@broker/shared/logger';
import type { ApiContext } from '../context';
import { RedisDeadlineError, withRedisDeadline } from '../redis/deadline';
import type { SpendChargeOf } from './spend-caps';

/**
 * What a job took of the cost guards; `release` gives it back when no job
 * came of the request (`replayed`: the job of its key exists, made by a
 * concurrent duplicate that may rely on this request's spend reservation).
 */
export interface CostReservation {
  /** The UTC day its spend was counted on (for its record and data); absent: under no spend cap. */
  spendDay?: string;
  release(replayed?: boolean): Promise<void>;
}

export interface CostRequest {
  agentId: string;
  tool: string;
  jobId: string;
  /** The job's createdAt. */
  at: Date;
  /** From SpendCaps.measure. */
  charges: readonly SpendChargeOf[];
  /** The Idempotency-Key's hash and the request's fingerprint, as the job store claims them. */
  claim?: { key: string; fingerprint: string } | undefined;
}

/**
 * Takes a job's daily job cap slot(s), then its spend cap amounts; refused by
 * either (429), it holds nothing. Bounded by the Redis deadline like any
 * handler's Redis work; when the request stops waiting (503) while the
 * reservation still lands, it is given back as soon as it does: no job comes
 * of that request.
 */
export async function reserveCostGuards(ctx: Pick<ApiContext, 'dailyJobCaps' | 'spendCaps'>, request: CostRequest, logger: Logger): Promise<CostReservation> {
  const { agentId, tool, jobId, at, charges, claim } = request;
  const work = (async (): Promise<CostReservation> => {
    const daily = await ctx.dailyJobCaps.reserve(agentId, tool, claim?.key);
    const spend = await ctx.spendCaps.reserve(agentId, jobId, charges, at, claim).catch(async (err: unknown) => {
      await daily.release().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'could not give back a daily job cap slot'));
      throw err;
    });
    return {
      ...(spend.spendDay ? { spendDay: spend.spendDay } : {}),
      release: async (replayed = false) => {
        await Promise.all([daily.release(), spend.release(replayed)]);
      },
    };
  })();
  return withRedisDeadline(work).catch((err: unknown) => {
    if (err instanceof RedisDeadlineError) {
      void work.then(
        (late) => late.release().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'could not give back an abandoned cost guard reservation')),
        () => undefined,
      );
    }
    throw err;
  });
}
