import { z } from 'zod';
import { publicJobSchema } from './schema';

/*
 * Approval holds (docs/guardrails.md#approval-holds; approve/deny and `GET /v1/approvals` in docs/api.md#the-agent-api):
 * what a held job's record keeps, the operators' request and answer bodies,
 * and the alert request the api hands the worker's alerter.
 */

/**
 * The `approvals` rule that held a job, as its record keeps it: copied at
 * submission, so the record still says why it waits after the config changed.
 * `index` is the rule's position in `approvals` (0-based).
 */
export const heldByRuleSchema = z.object({
  index: z.int().min(0),
  tools: z.string(),
  when: z.looseObject({ pointer: z.string() }).optional(),
  agents: z.array(z.string()).optional(),
  timeoutSeconds: z.int().min(1),
});
export type HeldByRule = z.infer<typeof heldByRuleSchema>;

/** One line naming a rule, for alerts and logs: `#0 demo.create* when /input/amount gt 1000`. */
export function describeHeldByRule(rule: HeldByRule): string {
  const parts = [`#${rule.index} ${rule.tools}`];
  if (rule.when) {
    const op = Object.keys(rule.when).find((k) => k !== 'pointer');
    if (op) parts.push(`when ${rule.when.pointer} ${op} ${JSON.stringify(rule.when[op])}`);
  }
  if (rule.agents) parts.push(`for agents ${rule.agents.join(', ')}`);
  return parts.join(' ');
}

/** Why and until when a job waits in `awaiting_approval`. */
export interface JobHold {
  rule: HeldByRule;
  /** ISO 8601: undecided by then, the job fails `APPROVAL_EXPIRED`. */
  expiresAt: string;
}

/** Who decided a held job, and how; on the record only, never in the public job. */
export interface ApprovalDecision {
  outcome: 'approved' | 'denied' | 'expired';
  /** `admin`, or the id of the agent whose `jobs:approve` scope decided; absent for `expired`. */
  by?: string;
  at: string;
  reason?: string;
}

/** @defaultValue 500 characters */
export const MAX_APPROVAL_REASON_CHARS = 500;

/** `POST /v1/jobs/{id}/approve` and `…/deny`: an optional reason, kept on the record (and, for a denial, in the job's error message). */
export const approvalDecisionBodySchema = z.strictObject({
  reason: z.string().max(MAX_APPROVAL_REASON_CHARS).optional(),
});
export type ApprovalDecisionBody = z.infer<typeof approvalDecisionBodySchema>;

/**
 * One job of `GET /v1/approvals`: the public job, its agent and connection,
 * the rule that held it, when the hold expires, and the input the operator is
 * asked to approve (absent when the queue no longer has it).
 */
export const heldJobSchema = publicJobSchema.extend({
  agent: z.string(),
  connection: z.string(),
  rule: heldByRuleSchema,
  expiresAt: z.string(),
  input: z.record(z.string(), z.unknown()).optional(),
});
export type HeldJob = z.infer<typeof heldJobSchema>;

export const approvalListSchema = z.object({ jobs: z.array(heldJobSchema) });
export type ApprovalList = z.infer<typeof approvalListSchema>;

/**
 * An alert the api asks the worker to raise (the api never calls out; the
 * worker's alerter owns the webhook). It names the job only: the worker reads
 * the record, so the alert says what the record says, and never carries input.
 */
export const alertRequestSchema = z.object({ kind: z.literal('approval_requested'), jobId: z.string() });
export type AlertRequest = z.infer<typeof alertRequestSchema>;

/** The BullMQ job name of an alert request. */
export const ALERT_REQUEST_JOB_NAME = 'alert.request';

/** One request per held job: BullMQ keeps the first job of an id, so a repeat is a no-op. */
export const alertRequestJobId = (request: AlertRequest): string => `${request.kind}-${request.jobId}`;

export interface AlertRequestOptions {
  jobId: string;
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
}

/** A few tries (Redis hiccups while reading the record); kept a day either way, for Bull Board. */
export function alertRequestOptions(request: AlertRequest): AlertRequestOptions {
  return {
    jobId: alertRequestJobId(request),
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 1000 },
  };
}
