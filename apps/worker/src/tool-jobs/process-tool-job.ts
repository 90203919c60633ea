import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { fixedFieldsLogger, lazyChild, type Logger } from '@broker/shared/logger';
import { toolJobDataSchema, type ToolJobData } from '@broker/shared/jobs/schema';
import { asToolError, isPending, ToolError } from '@broker/tools';
import { admitTry } from './admit-try';
import { CallHeldBack } from './call-held-back';
import { ClaimLost } from './claim-lost';
import { settleInterruptedWrite } from './interrupted-write';
import { endHold } from './end-hold';
import { runTry, type TryOutcome } from './run-try';
import { settleFailedTry } from './settle-try';
import type { ToolJobDeps } from './tool-job-deps';
import { isUnkeyedWrite } from './unkeyed-write';

export type { ToolJobDeps } from './tool-job-deps';
export { MAX_RATE_LIMIT_DEFERRALS, RetryLaterError } from './settle-try';

/** How long after it was queued a job with no record is looked at again rather than skipped. @defaultValue 5000 */
export const RECORD_GRACE_MS = 5000;

function mayHaveApplied(what: string): ToolError {
  return new ToolError('OUTCOME_UNKNOWN', {
    message: `${what}, and the tool sends no idempotency key: it is not sent again; check the upstream, then submit a new job if it did not`,
    retryable: false,
  });
}

function fieldPaths(errors: { pointer: string; message: string }[]): string {
  return errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ');
}

/**
 * Runs one try of a tool job, in three steps of their own files:
 * 1. admit (admit-try.ts): claim the record and ask the circuit breaker;
 *    a cancelled or finished job is not run;
 * 2. run (run-try.ts): the tool, every request admitted by the call gate
 *    right before it is written;
 * 3. settle: success, or settle-try.ts carries out the one retry decision
 *    (decide-try.ts): retry with backoff, defer without spending an attempt
 *    (holding back only who must wait), or fail.
 * The job record is the truth agents read; BullMQ moves the job between
 * wait, delayed, active and finished.
 */
export function createToolJobProcessor(deps: ToolJobDeps) {
  // The success line has fixed fields: no redaction pass (see fixedFieldsLogger).
  const successLog: Logger = fixedFieldsLogger(deps.logger);
  return async function processToolJob(job: Job<ToolJobData>, token?: string): Promise<{ status: string }> {
    const id = job.id!;
    const data = toolJobDataSchema.parse(job.data);
    const integration = deps.config.integrations[data.integration];
    const tool = deps.registry.get(data.tool);
    const client = deps.clients.get(data.integration);
    const log = lazyChild(deps.logger, { jobId: id, requestId: data.requestId, tool: data.tool, integration: data.integration });

    if (!integration || !tool || !client) {
      await deps.store.fail(id, new ToolError('UNKNOWN', { message: `tool "${data.tool}" is no longer configured` }).toJobError());
      throw new UnrecoverableError(`tool ${data.tool} is not configured`);
    }
    const input = tool.validateInput(data.input);
    if (!input.ok) {
      await deps.store.fail(id, new ToolError('VALIDATION_ERROR', { message: `input: ${fieldPaths(input.errors)}` }).toJobError());
      throw new UnrecoverableError('input no longer valid');
    }
    // A job of an async tool that already made its first call: a wake-up, not a try (async-tools/async-waits.ts).
    if (data.asyncWait && deps.asyncWaits) return deps.asyncWaits.resume({ job, token, data, tool, input: input.value, log });
    const unkeyedWrite = isUnkeyedWrite(tool);
    // An earlier try may have applied this write (a worker noted it, or the agent retried
    // an OUTCOME_UNKNOWN job): without a way to look it up, it is not resent blindly.
    if (data.mayHaveApplied && unkeyedWrite && !tool.verify) {
      await deps.store.fail(id, mayHaveApplied('an earlier try of this write may have taken effect upstream').toJobError());
      throw new UnrecoverableError('an earlier try may have taken effect; not resent without an idempotency key');
    }

    // A look-only run (see lookOnly) sends no write: it is no attempt.
    const admission = await admitTry(deps, id, data.integration, integration, data.connection, log, !data.lookOnly);
    if (admission.kind === 'skip') {
      // Held for approval (config `approvals`): its delay ran out, or it was taken early.
      if (admission.status === 'awaiting_approval') return endHold(deps, job, token, log);
      if (admission.status === 'missing' && Date.now() - job.timestamp < RECORD_GRACE_MS) {
        // The api sends a job's record and the job together; should they ever
        // arrive out of order, the record follows within moments: look again.
        await job.moveToDelayed(Date.now() + 100, token);
        throw new DelayedError();
      }
      log.info({ status: admission.status }, 'job not run: already %s', admission.status);
      if (admission.status !== 'missing') await deps.resendCallback?.(id);
      return { status: admission.status };
    }
    // A re-run after a try that never reported back (its worker died mid-call): for a write
    // without an idempotency key, that try may have reached the upstream, so no blind resend.
    if (admission.interrupted && unkeyedWrite) {
      if (admission.kind === 'run') await Promise.all([admission.ticket.release(), deps.gate.release(data.integration, data.connection, admission.tryToken)]);
      return settleInterruptedWrite(deps, { job, token, data, integration, canLookUp: tool.verify !== undefined, tryToken: admission.tryToken, log });
    }
    if (admission.kind === 'held') return settleFailedTry(deps, { job, token, data, integration, error: admission.error, log, tryToken: admission.tryToken });

    const { ticket, tryToken } = admission;
    // An earlier try may have applied it: with a way to look it up, it is looked up first (run-try.ts).
    const looks = unkeyedWrite && data.mayHaveApplied === true;
    if (data.lookOnly && !looks) {
      // No attempt was left and the tool now sends an idempotency key (its config changed): end as the last try did.
      await Promise.all([ticket.release(), deps.gate.release(data.integration, data.connection, tryToken), deps.store.fail(id, data.lookOnly, tryToken)]);
      throw new UnrecoverableError(`${data.lookOnly.code}: ${data.lookOnly.message}`);
    }
    const lookFirst = looks ? { lookFirst: data.lookOnly ? { only: data.lookOnly } : {} } : {};
    let outcome: TryOutcome;
    try {
      outcome = await runTry(
        deps,
        {
          id,
          submittedAt: job.timestamp,
          data,
          integration,
          tool,
          client,
          input: input.value,
          attempt: admission.attempt,
          tryToken,
          preAdmission: admission.preAdmission,
          ticket,
          log,
          ...lookFirst,
        },
        isPending,
      );
    } catch (err) {
      const error = asToolError(err);
      await ticket.settle(error);
      // Another try holds the job now (this worker lost its lock): its record is that try's to write.
      if (error instanceof ClaimLost) throw error;
      if (!(error instanceof CallHeldBack)) deps.metrics.toolErrors.inc({ integration: data.integration, code: error.code });
      return settleFailedTry(deps, { job, token, data, integration, error, log, canLookUp: tool.verify !== undefined, tryToken });
    }
    if (outcome.kind === 'absent') {
      await Promise.all([ticket.settle(), deps.store.fail(id, outcome.error, tryToken)]);
      throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
    }
    if (outcome.kind === 'pending') {
      await ticket.settle();
      // The async wait puts the job to sleep, or finishes it for good, itself.
      if (deps.asyncWaits) return deps.asyncWaits.begin({ job, token, data, tool, input: input.value, log }, outcome.pending);
      const error = new ToolError('UNKNOWN', { message: 'the tool answered pending, but async waits are not set up' });
      return settleFailedTry(deps, { job, token, data, integration, error, log, tryToken });
    }
    // Independent writes: sent together, one round trip.
    await Promise.all([ticket.settle(), deps.store.succeed(id, outcome.value, tryToken)]);
    successLog.info({ jobId: id, requestId: data.requestId, tool: data.tool, integration: data.integration, attempt: admission.attempt }, 'job succeeded');
    return { status: 'succeeded' };
  };
}
