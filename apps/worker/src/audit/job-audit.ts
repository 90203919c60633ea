import { auditEntry, type AuditEntry, type AuditSubject } from '@broker/shared/audit/schema';
import type { AuditTrail } from '@broker/redis/audit/audit-trail';
import type { JobError } from '@broker/shared/jobs/schema';
import type { UpstreamCallReport } from '@broker/tools';

/**
 * Entries held for one job before a write of their own: a paginated try
 * makes many calls. @defaultValue 100
 */
const MAX_HELD = 100;

export type VerifiedOutcome = 'found' | 'absent' | 'unknown';

/**
 * The worker's side of the audit trail: `call` and `verified` entries of a
 * run, `succeeded` and `failed` where the record turns terminal.
 *
 * Costs no round trip a job waits for: a run's entries are held in memory
 * and written in one command (XADD, or one script for several) either with
 * the job's end — sent right after the FINISH script, without being awaited —
 * or, for a run that does not end the job (a retry, a deferral, an async
 * wait), when the run returns. A run that finishes its job after one call
 * thus adds one command. Writes never throw (AuditTrail.append).
 */
export class JobAudit {
  private readonly held = new Map<string, AuditEntry[]>();

  constructor(private readonly trail: AuditTrail) {}

  /**
   * The `onCall` observer of a try's (or an async status check's) HTTP
   * handle: one `call` entry per upstream request, resends included.
   */
  calls(subject: AuditSubject, attempt?: number): (report: UpstreamCallReport) => void {
    return (report) => {
      const status = report.status ?? report.failure ?? 'ERR_NETWORK';
      this.hold(auditEntry('call', subject, { status, durationMs: Math.max(0, Math.round(report.durationMs)), ...(attempt !== undefined ? { attempt } : {}) }));
    };
  }

  /** The lookup of what an earlier try of an unkeyed write did (run-try.ts `lookFirst`). */
  verified(subject: AuditSubject, attempt: number, outcome: VerifiedOutcome): void {
    this.hold(auditEntry('verified', subject, { status: outcome, attempt }));
  }

  /** The job turned terminal here (FinishReportingJobStore): its held entries, then the end. */
  finished(subject: AuditSubject, status: 'succeeded' | 'failed', error?: JobError): void {
    const entries = this.take(subject.jobId);
    entries.push(auditEntry(status, subject, status === 'failed' && error ? { code: error.code } : {}));
    void this.trail.append(entries);
  }

  /** A run returned: writes what it left held (nothing when its end already took it). */
  flush(jobId: string): void {
    const entries = this.take(jobId);
    if (entries.length > 0) void this.trail.append(entries);
  }

  private hold(entry: AuditEntry): void {
    let entries = this.held.get(entry.jobId);
    if (!entries) this.held.set(entry.jobId, (entries = []));
    entries.push(entry);
    if (entries.length >= MAX_HELD) this.flush(entry.jobId);
  }

  private take(jobId: string): AuditEntry[] {
    const entries = this.held.get(jobId) ?? [];
    this.held.delete(jobId);
    return entries;
  }
}
