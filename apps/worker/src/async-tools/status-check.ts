import { randomBytes } from 'node:crypto';
import type { IntegrationConfig, Logger, Metrics } from '@broker/shared';
import { asToolError, type IntegrationClient, type RunnableTool, type StatusCheck, type ToolError, type UpstreamAnswerHeaders } from '@broker/tools';
import type { CallGate } from '../limits/call-gate';
import type { CircuitBreaker } from '../limits/circuit-breaker';
import { upstreamObserver } from '../metrics/upstream-observer';
import { gateFurtherCalls } from '../tool-jobs/gated-http';

export interface StatusCheckDeps {
  gate: CallGate;
  breaker: CircuitBreaker;
  metrics: Metrics;
}

export interface StatusCheckRun {
  jobId: string;
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
}

export type CheckResult = StatusCheck | { state: 'deferred'; waitMs: number } | { state: 'error'; error: ToolError };

/**
 * One status check, admitted like any upstream call: the circuit breaker and
 * the call gate (sliding windows, pauses) first. Held back, it comes back as
 * `deferred` and the job is simply woken later; a failed call is reported
 * to the breaker, and a 429 or `Retry-After` pauses the integration.
 */
export async function runStatusCheck(deps: StatusCheckDeps, run: StatusCheckRun): Promise<CheckResult> {
  const { gate, breaker, metrics } = deps;
  const token = `${run.jobId}:check:${randomBytes(4).toString('hex')}`;
  const [ticket, verdict] = await Promise.all([
    breaker.admit(run.name, run.integration, token, run.log),
    gate.acquire(run.name, run.integration, run.connection, token),
  ]);
  if (!ticket.admitted || !verdict.admitted) {
    await Promise.all([
      ticket.admitted ? ticket.release() : undefined,
      verdict.admitted ? gate.release(run.name, run.connection, token) : undefined,
    ]);
    const waitMs = !ticket.admitted ? ticket.waitMs : !verdict.admitted ? verdict.waitMs : 0;
    return { state: 'deferred', waitMs: Math.max(50, waitMs) };
  }
  const controller = new AbortController();
  try {
    const http = gateFurtherCalls(
      run.client.forCall({
        tool: run.tool.name,
        jobId: run.jobId,
        attempt: 0,
        connection: run.connection,
        write: false,
        requestId: run.requestId,
        onCall: upstreamObserver(metrics),
        signal: controller.signal,
        ...(run.onResponse ? { onResponse: run.onResponse } : {}),
      }),
      (call) => gate.acquire(run.name, run.integration, run.connection, `${token}:${call}`),
      controller.signal,
    );
    const result = await run.tool.checkStatus!(run.reference, run.input, {
      jobId: run.jobId,
      attempt: 0,
      connection: run.connection,
      idempotencyKey: run.jobId,
      http,
      logger: run.log,
      signal: controller.signal,
      reportProgress: async () => undefined,
      pauseIntegration: async (ms, reason) => {
        await gate.pause(run.name, ms, reason);
        metrics.pauses.inc({ integration: run.name });
      },
    });
    await ticket.settle();
    return result;
  } catch (err) {
    const error = asToolError(err);
    await ticket.settle(error);
    if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) {
      await gate.pause(run.name, error.retryAfterMs, `${error.upstreamStatus ?? ''}`);
      metrics.pauses.inc({ integration: run.name });
    }
    return { state: 'error', error };
  }
}
