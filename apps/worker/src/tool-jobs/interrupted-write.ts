import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import { ToolError } from '@broker/tools';
import { ClaimLost } from './claim-lost';
import type { ToolJobDeps } from './tool-job-deps';

export interface InterruptedWrite {
  job: Job<ToolJobData>;
  token: string | undefined;
  data: ToolJobData;
  integration: IntegrationConfig;
  /** The tool can look up what the interrupted try did (`verify`). */
  canLookUp: boolean;
  /** This run's claim (it fenced the interrupted try out). */
  tryToken: string;
  log: Logger;
}

/**
 * A re-run whose claim found the record still `running`: the try before it
 * never reported back (its worker died or stalled past its lock) and may have
 * sent this unkeyed write. That fact is written into the job first, so no
 * later run can forget it (a run held back by the breaker or the limiter, an
 * operator's retry). Then:
 * - a tool that cannot look the effect up ends OUTCOME_UNKNOWN, sending nothing;
 * - one that can waits the integration's `timeoutMs` before its next run
 *   looks: the claim fenced the old try out, so only a request it sent before
 *   is left, and that one has had as long as any try gives the upstream. The
 *   wait spends no attempt, and the job cannot be cancelled meanwhile.
 */
export async function settleInterruptedWrite(deps: ToolJobDeps, run: InterruptedWrite): Promise<never> {
  const { job, token, data, integration, tryToken, log } = run;
  const id = job.id!;
  const noted: ToolJobData = { ...data, mayHaveApplied: true };
  if (!data.mayHaveApplied) await job.updateData(noted);
  if (!run.canLookUp) {
    const error = new ToolError('OUTCOME_UNKNOWN', {
      message:
        'the previous try of this write was interrupted (its worker stopped) and may have reached the upstream, and the tool sends no idempotency key: it is not sent again; check the upstream, then submit a new job if it did not',
      retryable: false,
    });
    await deps.store.fail(id, error.toJobError(), tryToken);
    throw new UnrecoverableError('an interrupted try may have taken effect; not resent without an idempotency key');
  }
  const lookAt = Date.now() + integration.timeoutMs;
  if (!(await deps.store.markWaiting(id, 'queued', undefined, tryToken, true))) throw new ClaimLost(id);
  // A look-only run's claim counted no attempt; this run sends nothing, so it gives its own back.
  if (!data.lookOnly) await deps.store.incrementAttempts(id, -1);
  log.warn({ lookAt: new Date(lookAt).toISOString() }, 'the previous try of this write was interrupted: its effect is looked up before anything is sent');
  await job.moveToDelayed(lookAt, token);
  throw new DelayedError();
}
