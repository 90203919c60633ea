import { DelayedError, type Job } from 'bullmq';
import type { JobError, ToolJobData } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import type { ToolJobDeps } from './tool-job-deps';

/** The error of a held job nobody approved or denied in time (docs/guardrails.md#approval-holds). */
export const APPROVAL_EXPIRED_ERROR: JobError = {
  code: 'APPROVAL_EXPIRED',
  message: "Nobody approved or denied the job within its approval rule's timeoutSeconds; it was not run. Submit it again to ask anew.",
  retryable: false,
};

/**
 * A worker took the BullMQ job of a job still `awaiting_approval` (the claim
 * does not take a held record). That job was delayed until its hold's end, so
 * this is normally its expiry: the record ends `failed` APPROVAL_EXPIRED in one
 * script that checks it is still held and past its deadline, racing an
 * approval, a denial or a cancel safely. Otherwise:
 * - the hold still runs (the job was promoted by hand, or clocks differ): the
 *   job waits again until the deadline;
 * - it was approved in between (the record is `queued`): it is put back to
 *   be taken at once, and the next claim runs it;
 * - anything else (denied, cancelled): nothing to do.
 * An expired job completes in BullMQ (not failed), so an operator's
 * `jobs retry-failed` can never run a job nobody approved.
 */
export async function endHold(deps: ToolJobDeps, job: Job<ToolJobData>, token: string | undefined, log: Logger): Promise<{ status: string }> {
  const id = job.id!;
  const outcome = await deps.store.expireHold(id, APPROVAL_EXPIRED_ERROR);
  switch (outcome.kind) {
    case 'expired':
      log.info({ audit: 'expired', rule: outcome.record.hold?.rule.index, agent: outcome.record.agentId }, 'held job expired: nobody approved or denied it in time');
      return { status: 'failed' };
    case 'early':
      await job.moveToDelayed(Math.max(outcome.untilMs, Date.now() + 100), token);
      throw new DelayedError();
    case 'conflict':
      if (outcome.status === 'queued') {
        // Approved between the claim and this script: run it, as a fresh take of the job.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      log.info({ status: outcome.status }, 'job not run: already %s', outcome.status);
      return { status: outcome.status };
    case 'missing':
      return { status: 'missing' };
  }
}
