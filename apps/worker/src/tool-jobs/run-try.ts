import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { JobError, ToolJobData } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import { ToolError, type IntegrationClient, type Pending, type RunnableTool, type ToolContext } from '@broker/tools';
import { responseObservers } from '../alerts/deprecation-watch';
import { throttleScope } from '../limits/call-gate';
import { upstreamObserver } from '../metrics/upstream-observer';
import type { BreakerTicket } from '../limits/circuit-breaker';
import { callAdmission, type PreAdmission } from './call-admission';
import { lookUpEarlierTry } from './look-up-earlier-try';
import type { ToolJobDeps } from './tool-job-deps';
import { isUnkeyedWrite } from './unkeyed-write';

/**
 * Nothing cancels a try that runs (a cancel applies to queued jobs, SIGTERM
 * lets running tries finish): tools get a signal that never aborts, and the
 * HTTP layer sets no listener per request.
 */
const NOTHING_CANCELS_A_TRY = new AbortController().signal;

export interface TryRun {
  id: string;
  /** When the job was submitted (epoch ms; BullMQ's job timestamp). */
  submittedAt: number;
  data: ToolJobData;
  integration: IntegrationConfig;
  tool: RunnableTool;
  client: IntegrationClient;
  input: unknown;
  attempt: number;
  tryToken: string;
  preAdmission?: PreAdmission;
  ticket: Extract<BreakerTicket, { admitted: true }>;
  log: Logger;
  /**
   * An earlier try may have applied this unkeyed write: look its effect up
   * first (found: it is the output; absent: send). With `only`, send nothing:
   * absent, the try ends with that error (the last attempt's).
   */
  lookFirst?: { only?: JobError };
}

export type TryOutcome =
  | { kind: 'output'; value: unknown }
  | { kind: 'pending'; pending: Pending; raw: unknown }
  /** A look-only run found nothing: the job ends with the last attempt's error. */
  | { kind: 'absent'; error: JobError };

function fieldPaths(errors: { pointer: string; message: string }[]): string {
  return errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ');
}

/**
 * The try itself: the tool runs with an HTTP handle whose every request —
 * the first, pages, resends — is admitted by the call gate right before it is
 * written, and its output is checked against the tool's schema. Throws the
 * try's failure; the caller settles it.
 */
export async function runTry(deps: ToolJobDeps, run: TryRun, isPending: (output: unknown) => output is Pending): Promise<TryOutcome> {
  const { id, data, integration, tool, log } = run;
  const subject = { jobId: id, agent: data.agentId, tool: data.tool, connection: data.connection };
  const observers = responseObservers(
    deps.adaptive.observer(data.integration, integration, data.connection, log),
    deps.deprecations?.observer(data.integration, tool.name, tool.apiVersion, log),
  );
  // A second try of an unkeyed write must never send while this one may: each request checks the claim.
  const unkeyedWrite = isUnkeyedWrite(tool);
  const admission = callAdmission({
    gate: deps.gate,
    integrationName: data.integration,
    integration,
    connection: data.connection,
    tryToken: run.tryToken,
    ...(run.preAdmission ? { preAdmission: run.preAdmission } : {}),
    signal: NOTHING_CANCELS_A_TRY,
    log,
    onAdmitted: () => run.ticket.renew(),
    ...(unkeyedWrite ? { fence: { jobId: id, holds: () => deps.store.holdsClaim(id, run.tryToken) } } : {}),
    // Spend caps: from its first request on, the job's amounts are spent for good (never given back).
    ...(data.spendDay && deps.commitSpend ? { beforeFirstRequest: () => deps.commitSpend!({ id, agentId: data.agentId, spendDay: data.spendDay }) } : {}),
  });
  const http = run.client.forCall({
    tool: tool.name,
    jobId: id,
    attempt: run.attempt,
    connection: data.connection,
    write: tool.write,
    // The submitting request's id ties upstream logs to the agent's request; `attempt` is in our log lines.
    requestId: data.requestId ?? `${id}-${run.attempt}`,
    onCall: upstreamObserver(deps.metrics, deps.audit?.calls(subject, run.attempt)),
    ...observers,
    // Derived from the job, so every attempt and a re-run after a crash send the same key.
    ...(tool.idempotent ? { idempotencyKey: id } : {}),
    admit: admission.admit,
  });
  const ctx: ToolContext = {
    jobId: id,
    submittedAt: run.submittedAt,
    attempt: run.attempt,
    connection: data.connection,
    idempotencyKey: id,
    logger: log,
    signal: NOTHING_CANCELS_A_TRY,
    http,
    reportProgress: async (progress) => {
      await deps.store.setProgress(id, progress, run.tryToken);
    },
    // A budget reported in a body (GraphQL query cost) is the credential's, like a 429.
    pauseIntegration: async (ms, reason) => {
      const scope = throttleScope(integration);
      await deps.gate.pause(data.integration, ms, reason, scope === 'connection' ? data.connection : undefined);
      deps.metrics.pauses.inc({ integration: data.integration });
    },
  };
  let output: unknown;
  try {
    if (run.lookFirst) {
      const earlier = await lookUpEarlierTry(tool, run.input, ctx).catch((err: unknown) => {
        if (err instanceof ToolError && err.code === 'OUTCOME_UNKNOWN') {
          deps.metrics.earlierTryLookups.inc({ integration: data.integration, outcome: 'unknown' });
          deps.audit?.verified(subject, run.attempt, 'unknown');
        }
        throw err;
      });
      deps.metrics.earlierTryLookups.inc({ integration: data.integration, outcome: earlier.found ? 'found' : 'absent' });
      deps.audit?.verified(subject, run.attempt, earlier.found ? 'found' : 'absent');
      if (earlier.found) {
        log.info({ reference: id }, 'an earlier try of this write took effect: found by its reference, not sent again');
        output = earlier.output;
      } else if (run.lookFirst.only) {
        log.info({ reference: id }, 'the last try of this write did not take effect: nothing found by its reference');
        return { kind: 'absent', error: run.lookFirst.only };
      } else {
        log.info({ reference: id }, 'no earlier try of this write took effect: sending it again with the same reference');
        output = await tool.run(run.input, ctx);
      }
    } else {
      output = await tool.run(run.input, ctx);
    }
  } finally {
    await admission.releaseUnused();
  }
  if (isPending(output)) return { kind: 'pending', pending: output, raw: output };
  const checked = tool.validateOutput(output);
  if (!checked.ok) {
    deps.escalations?.schemaMismatch({ integration: data.integration, tool: tool.name, errors: checked.errors, sample: output, jobId: id });
    // An answer came: an unkeyed write was applied, whatever its body says (see mayHaveBeenApplied).
    throw new ToolError('SCHEMA_MISMATCH', {
      message: `upstream answer does not match the output schema: ${fieldPaths(checked.errors)}`,
      writeWithoutKey: unkeyedWrite,
    });
  }
  return { kind: 'output', value: checked.value };
}
