import { z } from 'zod';

/**
 * The events of a job's life the audit trail records (docs/guardrails.md#audit-trail). Stored
 * entries carry these names: renaming one leaves old entries under the old name.
 */
export const AUDIT_EVENTS = ['submitted', 'held', 'approved', 'denied', 'call', 'verified', 'succeeded', 'failed', 'cancelled', 'retried'] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/**
 * One entry of the audit trail. Facts about a job, never its content: no
 * input (only `inputSha256`), no result, no error message (only `code`), no
 * URL, header or secret.
 */
export const auditEntrySchema = z.object({
  /** ISO 8601: when it happened. */
  at: z.string(),
  event: z.enum(AUDIT_EVENTS),
  jobId: z.string(),
  /** The agent whose job it is. */
  agent: z.string(),
  tool: z.string(),
  connection: z.string(),
  /** Who did it, where that is not the job's agent's own submission: the agent (cancel, retry), or `admin` / the operator agent (approve, deny). */
  by: z.string().optional(),
  /**
   * `call`: the upstream's HTTP status, or the network failure when no answer
   * came (`ETIMEDOUT`, `ECONNREFUSED`, `ECONNRESET`, `ERR_NETWORK`, …).
   * `verified`: `found`, `absent` or `unknown`.
   */
  status: z.union([z.int(), z.string()]).optional(),
  /** `failed`: the job's error code; `retried`: the code of the failure retried. */
  code: z.string().optional(),
  /** `submitted`: sha256 (hex) of the input's canonical JSON (object keys sorted at every depth). */
  inputSha256: z.string().optional(),
  /** `call`: from sending the request to the end of its answer (or its failure), in ms. */
  durationMs: z.int().min(0).optional(),
  /** `call`, `verified`: the try (`job.attempts` as it counted it); absent for an async tool's status checks. */
  attempt: z.int().min(0).optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** `GET /v1/audit`. */
export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  /** Pass back as `cursor` (with the same filters) for older entries; null when the scan reached the end. */
  nextCursor: z.string().nullable(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/** The job an entry is about. */
export interface AuditSubject {
  jobId: string;
  agent: string;
  tool: string;
  connection: string;
}

/** What may be said about an event beyond its subject (see auditEntrySchema). */
export type AuditFacts = Pick<AuditEntry, 'by' | 'status' | 'code' | 'inputSha256' | 'durationMs' | 'attempt'>;

/** An entry with its fields in the contract's order (and the optional ones only when set), as it is stored and listed. */
export function auditEntry(event: AuditEvent, subject: AuditSubject, facts: AuditFacts = {}, at: Date | string = new Date()): AuditEntry {
  const entry: AuditEntry = {
    at: typeof at === 'string' ? at : at.toISOString(),
    event,
    jobId: subject.jobId,
    agent: subject.agent,
    tool: subject.tool,
    connection: subject.connection,
  };
  if (facts.by !== undefined) entry.by = facts.by;
  if (facts.status !== undefined) entry.status = facts.status;
  if (facts.code !== undefined) entry.code = facts.code;
  if (facts.inputSha256 !== undefined) entry.inputSha256 = facts.inputSha256;
  if (facts.durationMs !== undefined) entry.durationMs = facts.durationMs;
  if (facts.attempt !== undefined) entry.attempt = facts.attempt;
  return entry;
}
