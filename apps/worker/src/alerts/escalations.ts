import type { FieldError } from '@broker/shared/errors/problem';
import type { JobError } from '@broker/shared/jobs/schema';
import type { Metrics } from '@broker/shared/metrics';
import type { Alerter } from './alerter';
import { FailureRate } from './failure-rate';
import { redactSample } from './redact';

/** A job that reached a terminal state, as the finish listener reads it. */
export interface FinishedJobInfo {
  jobId: string;
  status: 'succeeded' | 'failed';
  tool: string;
  integration: string;
  connection: string;
  error?: JobError;
}

/** Permanent failures that say the upstream (or our reading of it) is broken, rather than the request. */
const BROKEN_CODES = new Set(['UPSTREAM_ERROR', 'UNKNOWN']);

/**
 * The causes the worker escalates, each turned into a metric and an alert
 * (deduplicated per cause and window by the Alerter). The periodic ones
 * (breakers, dead letters) are the AlertMonitor's.
 */
export class Escalations {
  private readonly rates: FailureRate;

  constructor(
    private readonly alerter: Alerter,
    private readonly metrics: Metrics,
  ) {
    this.rates = new FailureRate(alerter.settings.failureRate.windowMs);
  }

  /** Every finished job: permanent failures by code, their rate, and credentials refused for good. */
  jobFinished(job: FinishedJobInfo): void {
    const code = job.status === 'failed' ? (job.error?.code ?? 'UNKNOWN') : undefined;
    if (code) this.metrics.jobsFailed.inc({ integration: job.integration, code });
    const bad = code !== undefined && BROKEN_CODES.has(code);
    const { total, bad: badCount } = this.rates.record(job.integration, bad);
    const { threshold, minJobs, windowMs } = this.alerter.settings.failureRate;
    if (bad && total >= minJobs && badCount / total >= threshold) {
      const share = Math.round((badCount / total) * 100);
      void this.alerter.raise({
        kind: 'job_failure_rate',
        key: job.integration,
        severity: 'critical',
        summary: `${share}% of "${job.integration}" jobs failed for good with UPSTREAM_ERROR or UNKNOWN (${badCount} of ${total} in ${Math.round(windowMs / 1000)} s)`,
        details: {
          integration: job.integration,
          failed: badCount,
          finished: total,
          windowMs,
          threshold,
          lastCode: code,
          lastTool: job.tool,
          lastJobId: job.jobId,
          lastMessage: job.error?.message?.slice(0, 300),
        },
      });
    }
    // A 401 after the credentials were read again: the key was revoked or the token can no longer be used.
    if (code === 'AUTHENTICATION_FAILED' && job.error?.upstreamStatus === 401) {
      this.needsReauth({ integration: job.integration, connection: job.connection, reason: 'the upstream answered 401 after the credentials were read again', jobId: job.jobId });
    }
  }

  needsReauth(cause: { integration: string; connection: string; reason: string; jobId?: string }): void {
    this.metrics.reauthRequired.inc({ integration: cause.integration, connection: cause.connection });
    void this.alerter.raise({
      kind: 'connection_needs_reauth',
      key: `${cause.integration}/${cause.connection}`,
      severity: 'critical',
      summary: `connection "${cause.connection}" of "${cause.integration}" needs re-authorisation: connect it again or import new credentials`,
      details: { integration: cause.integration, connection: cause.connection, reason: cause.reason, ...(cause.jobId ? { jobId: cause.jobId } : {}) },
    });
  }

  /** An upstream answer broke the tool's output schema: the tool, the field paths, and the answer's shape without its values. */
  schemaMismatch(cause: { integration: string; tool: string; errors: readonly FieldError[]; sample: unknown; jobId: string }): void {
    this.metrics.schemaMismatches.inc({ integration: cause.integration, tool: cause.tool });
    const fields = cause.errors.slice(0, 20).map((e) => ({ path: e.pointer || '/', problem: e.message }));
    void this.alerter.raise({
      kind: 'schema_mismatch',
      key: cause.tool,
      severity: 'critical',
      summary: `"${cause.tool}" got an answer that breaks its output schema at ${fields.map((f) => f.path).join(', ')}: the upstream API may have changed`,
      details: { integration: cause.integration, tool: cause.tool, fields, sample: redactSample(cause.sample), jobId: cause.jobId },
    });
  }

  triggerExhausted(cause: { trigger: string; eventId: string; deliveryId: string; attempts: number; lastError: string; lastStatus?: number }): void {
    void this.alerter.raise({
      kind: 'trigger_delivery_exhausted',
      key: cause.trigger,
      severity: 'warning',
      summary: `trigger "${cause.trigger}" of event ${cause.eventId} was not delivered after ${cause.attempts} tries (${cause.lastError}); replay it with POST /v1/events/${cause.eventId}/replay once the receiver works`,
      details: cause,
    });
  }
}
