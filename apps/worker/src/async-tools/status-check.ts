import { randomBytes } from 'node:crypto';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import { asToolError, type IntegrationClient, type RunnableTool, type StatusCheck, type ToolError, type UpstreamAnswerHeaders, type UpstreamCallReport } from '@broker/tools';
import { throttleScope, type CallGate, type HoldScope } from '../limits/call-gate';
import type { CircuitBreaker } from '../limits/circuit-breaker';
import { upstreamObserver } from '../metrics/upstream-observer';
import { callAdmission } from '../tool-jobs/call-admission';
import { CallHeldBack } from '../tool-jobs/call-held-back';
import { pauseFor } from '../tool-jobs/decide-try';

export interface StatusCheckDeps {
  gate: CallGate;
  breaker: CircuitBreaker;
  metrics: Metrics;
}

export interface StatusCheckRun {
  jobId: string;
  /** When the job was submitted (epoch ms; BullMQ's job timestamp). */
  submittedAt: number;
  name: string;
  integration: IntegrationConfig;
  client: IntegrationClient;
  tool: RunnableTool;
  input: unknown;
  connection: string;
  reference: string;
  requestId: string;
  log: Logger;
  /** The try's answer observers (adaptive limits, deprecation watch). */
  onResponse?: (answer: UpstreamAnswerHeaders) => void;
  /** Told about the check's upstream call(s), beside the metrics (the job's audit entries). */
  onCall?: (report: UpstreamCallReport) => void;
}

export type CheckResult = StatusCheck | { state: 'deferred'; waitMs: number } | { state: 'error'; error: ToolError };

/**
 * One status check, admitted like any upstream call: the circuit breaker
 * first, then the call gate right before the request is written (sliding
 * windows and pauses; the check counts in the windows). Held back, it comes
 * back as `deferred` and the job is simply woken later; a failed call is
 * reported to the breaker, and pauses every worker exactly as a try's would
 * (`pauseFor`: a 429 its credential, with or without `Retry-After`; a 503
 * with `Retry-After` the integration).
 */
export async function runStatusCheck(deps: StatusCheckDeps, run: StatusCheckRun): Promise<CheckResult> {
  const { gate, breaker, metrics } = deps;
  const token = `${run.jobId}:check:${randomBytes(4).toString('hex')}`;
  const ticket = await breaker.admit(run.name, run.integration, token, run.log);
  if (!ticket.admitted) return { state: 'deferred', waitMs: Math.max(50, ticket.waitMs) };
  const controller = new AbortController();
  const scope = throttleScope(run.integration);
  const pause = async (ms: number, reason: string, on: HoldScope) => {
    await gate.pause(run.name, ms, reason, on === 'connection' ? run.connection : undefined);
    metrics.pauses.inc({ integration: run.name });
  };
  const admission = callAdmission({
    gate,
    integrationName: run.name,
    integration: run.integration,
    connection: run.connection,
    tryToken: token,
    signal: controller.signal,
    log: run.log,
    onAdmitted: () => ticket.renew(),
  });
  try {
    const http = run.client.forCall({
      tool: run.tool.name,
      jobId: run.jobId,
      attempt: 0,
      connection: run.connection,
      write: false,
      requestId: run.requestId,
      onCall: upstreamObserver(metrics, run.onCall),
      signal: controller.signal,
      ...(run.onResponse ? { onResponse: run.onResponse } : {}),
      admit: admission.admit,
    });
    const result = await run.tool.checkStatus!(run.reference, run.input, {
      jobId: run.jobId,
      submittedAt: run.submittedAt,
      attempt: 0,
      connection: run.connection,
      idempotencyKey: run.jobId,
      http,
      logger: run.log,
      signal: controller.signal,
      reportProgress: async () => undefined,
      pauseIntegration: (ms, reason) => pause(ms, reason, scope),
    });
    await ticket.settle();
    return result;
  } catch (err) {
    const error = asToolError(err);
    await ticket.settle(error);
    if (error instanceof CallHeldBack) return { state: 'deferred', waitMs: Math.max(50, error.waitMs) };
    // A try's pause rule (decide-try.ts). A check is never deferred for a 429 (the wait's own
    // backoff spaces the checks), so it pauses as a try's first throttle would.
    const held = pauseFor(error, { rateLimitDeferrals: 0, throttleScope: scope }, run.integration.retry);
    if (held) await pause(held.ms, `${error.upstreamStatus ?? error.code}`, held.scope);
    return { state: 'error', error };
  }
}
