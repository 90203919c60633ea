import { DelayedError, RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import type { ToolError } from '@broker/tools';
import { throttleScope } from '../limits/call-gate';
import { CallHeldBack } from './call-held-back';
import { ClaimLost } from './claim-lost';
import { decideTry, mayHaveBeenApplied, type Pause, type TryDecision } from './decide-try';
import type { ToolJobDeps } from './tool-job-deps';

/** A job answered 429 this many times ends as RATE_LIMITED. @defaultValue 10 */
export const MAX_RATE_LIMIT_DEFERRALS = 10;

/** Carries the planned delay to the worker's backoff strategy, so the record's retryAt is the real one. */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    readonly toolError: ToolError,
    readonly delayMs: number,
  ) {
    super(toolError.message, { cause: toolError });
  }
}

export interface FailedTry {
  job: Job<ToolJobData>;
  token: string | undefined;
  data: ToolJobData;
  integration: IntegrationConfig;
  error: ToolError;
  log: Logger;
  /** The tool can look up what an earlier try did by its reference (`verify`). */
  canLookUp?: boolean;
  /** The claim's token: the record is written only while this try still holds the job. */
  tryToken?: string;
}

/** The record did not take the write: a later claim holds the job, and its try writes the record. */
function ownedOrLost(id: string, written: boolean): void {
  if (!written) throw new ClaimLost(id);
}

async function applyPause(deps: ToolJobDeps, data: ToolJobData, pause: Pause, reason: string): Promise<void> {
  await deps.gate.pause(data.integration, pause.ms, reason, pause.scope === 'connection' ? data.connection : undefined);
  deps.metrics.pauses.inc({ integration: data.integration });
  // The integration's queue is held too, so no worker takes a job only to find it paused.
  if (pause.scope === 'integration') await deps.queues.get(data.integration)!.rateLimit(pause.ms);
}

/**
 * Carries out what `decideTry` decided for a failed (or held back) try, and
 * throws what tells BullMQ where the job goes next: RateLimitError (back to
 * wait, the queue held), DelayedError (this job alone waits), RetryLaterError
 * (a retry with backoff, an attempt spent) or UnrecoverableError (failed).
 * The try's attempt was counted by its claim; a deferral gives it back.
 */
export async function settleFailedTry(deps: ToolJobDeps, failed: FailedTry): Promise<never> {
  const { job, token, data, integration, error, log } = failed;
  const id = job.id!;
  const tryToken = failed.tryToken ?? '';
  const deferrals = data.rateLimitDeferrals ?? 0;
  const decision: TryDecision = decideTry(
    error,
    {
      // BullMQ decides whether a thrown error is retried, so decide with its count.
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
      rateLimitDeferrals: deferrals,
      maxRateLimitDeferrals: MAX_RATE_LIMIT_DEFERRALS,
      throttleScope: throttleScope(integration),
      // The upstream may still be working on a request we gave up on for as long as we waited for it.
      ...(failed.canLookUp ? { lookup: { afterMs: integration.timeoutMs } } : {}),
    },
    integration.retry,
  );
  if (decision.action !== 'defer' || decision.countsDeferral) {
    log.warn({ code: error.code, upstreamStatus: error.upstreamStatus, decision: decision.action, reason: decision.reason }, 'try failed');
  }
  // Whatever becomes of the job: the upstream named a time for every caller (a job that fails pauses too).
  if (decision.pause) await applyPause(deps, data, decision.pause, `${error.upstreamStatus ?? error.code}`);
  switch (decision.action) {
    case 'defer': {
      const held = error instanceof CallHeldBack;
      deps.metrics.deferrals.inc({
        integration: data.integration,
        scope: decision.hold,
        reason: held ? error.reason : decision.countsDeferral ? 'upstream_429' : 'circuit_open',
      });
      ownedOrLost(
        id,
        await deps.store.markWaiting(id, 'deferred', held ? undefined : error.toJobError(new Date(Date.now() + decision.waitMs)), tryToken, data.mayHaveApplied === true),
      );
      await Promise.all([
        // A look-only run's claim counted no attempt.
        data.lookOnly ? undefined : deps.store.incrementAttempts(id, -1),
        decision.countsDeferral ? job.updateData({ ...data, rateLimitDeferrals: deferrals + 1 }) : undefined,
      ]);
      if (decision.hold === 'connection') {
        await job.moveToDelayed(Date.now() + decision.waitMs, token);
        throw new DelayedError();
      }
      if (!decision.pause) await deps.queues.get(data.integration)!.rateLimit(decision.waitMs);
      throw new RateLimitError();
    }
    case 'retry': {
      deps.metrics.retries.inc({ integration: data.integration });
      // Noted before the record moves on: a crash in between leaves it running, which a re-run treats the same.
      if (decision.lookFirst && !data.mayHaveApplied) await job.updateData({ ...data, mayHaveApplied: true });
      const uncertain = decision.lookFirst === true || data.mayHaveApplied === true;
      ownedOrLost(id, await deps.store.markWaiting(id, 'queued', error.toJobError(new Date(Date.now() + decision.waitMs)), tryToken, uncertain));
      throw new RetryLaterError(error, decision.waitMs);
    }
    case 'look': {
      // No attempt left: one more run looks the effect up and sends nothing (a DelayedError spends no attempt).
      await job.updateData({ ...data, mayHaveApplied: true, lookOnly: decision.error.toJobError() });
      ownedOrLost(id, await deps.store.markWaiting(id, 'queued', error.toJobError(new Date(Date.now() + decision.waitMs)), tryToken, true));
      await job.moveToDelayed(Date.now() + decision.waitMs, token);
      throw new DelayedError();
    }
    case 'fail': {
      // A later re-run (an agent's or an operator's retry) must look before it sends: after an
      // OUTCOME_UNKNOWN, and after any end of an unkeyed write whose request may have been applied
      // (a 2xx whose body broke the output schema, a 520): `broker jobs retry-failed` retries those too.
      const mayHaveApplied = decision.error.code === 'OUTCOME_UNKNOWN' || mayHaveBeenApplied(error);
      if (mayHaveApplied && !data.mayHaveApplied) await job.updateData({ ...data, mayHaveApplied: true });
      await deps.store.fail(id, decision.error.toJobError(), tryToken);
      throw new UnrecoverableError(`${decision.error.code}: ${decision.error.message}`);
    }
  }
}
