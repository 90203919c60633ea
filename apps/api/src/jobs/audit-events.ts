import { createHash } from 'node:crypto';
import { auditEntry } from '@broker/shared/audit/schema';
import type { AuditTrail } from '@broker/redis/audit/audit-trail';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import { canonicalJson } from './idempotency';

/*
 * The api's entries of the audit trail (docs/guardrails.md "Audit trail"). Each is one
 * XADD sent without being awaited: a request never waits for its trail, and
 * a failed write is logged and counted by AuditTrail, never answered.
 */

const subjectOf = (record: JobRecord) => ({ jobId: record.id, agent: record.agentId, tool: record.tool, connection: record.connection });

/**
 * The digest of an input, never the input: sha256 (hex) of its canonical
 * JSON (object keys sorted at every depth, as for idempotency fingerprints),
 * so an operator holding an input can tell whether it is the one submitted.
 */
export function inputSha256(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input), 'utf8').digest('hex');
}

/** A job was accepted (not a replay): `submitted`, with the digest of its input. */
export function auditSubmitted(audit: AuditTrail, record: JobRecord, input: unknown): void {
  void audit.append(auditEntry('submitted', subjectOf(record), { inputSha256: inputSha256(input) }, record.createdAt));
}

/** The agent cancelled its job. */
export function auditCancelled(audit: AuditTrail, record: JobRecord, by: string): void {
  void audit.append(auditEntry('cancelled', subjectOf(record), { by }, record.finishedAt ?? new Date()));
}

/** The agent had its failed job run again; `code`: the failure it retried. */
export function auditRetried(audit: AuditTrail, record: JobRecord, by: string, code: string | undefined): void {
  void audit.append(auditEntry('retried', subjectOf(record), { by, ...(code ? { code } : {}) }, record.retriedAt ?? new Date()));
}

/** An approval rule held the job at submission (sent right behind its `submitted`). */
export function auditHeld(audit: AuditTrail, record: JobRecord): void {
  void audit.append(auditEntry('held', subjectOf(record), {}, record.createdAt));
}

/**
 * An operator decided a held job: `approved`, or `denied` followed by the
 * job's end (`failed` APPROVAL_DENIED), in one command. `by`: `admin` or the
 * deciding agent.
 */
export function auditDecision(audit: AuditTrail, record: JobRecord, outcome: 'approved' | 'denied', by: string): void {
  const subject = subjectOf(record);
  const at = new Date();
  if (outcome === 'approved') {
    void audit.append(auditEntry('approved', subject, { by }, at));
    return;
  }
  void audit.append([auditEntry('denied', subject, { by }, at), auditEntry('failed', subject, { code: record.error?.code ?? 'APPROVAL_DENIED' }, at)]);
}
