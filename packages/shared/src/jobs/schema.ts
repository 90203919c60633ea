import { z } from 'zod';
import { asyncWaitSchema } from '../async/wait-state';
import { toolErrorCodes } from '../errors/codes';

export const JOB_STATUSES = ['queued', 'running', 'deferred', 'awaiting_approval', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export const jobErrorSchema = z.object({
  code: z.enum(toolErrorCodes),
  message: z.string(),
  retryable: z.boolean(),
  upstreamStatus: z.int().optional(),
  /** ISO 8601: when a retry is planned, or when trying again may succeed. */
  retryAt: z.string().optional(),
});
export type JobError = z.infer<typeof jobErrorSchema>;

/** The job as agents see it (docs/api.md#the-agent-api). */
export const publicJobSchema = z.object({
  id: z.string(),
  tool: z.string(),
  status: z.enum(JOB_STATUSES),
  attempts: z.int().min(0),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  progress: z.unknown().optional(),
  result: z.unknown().optional(),
  error: jobErrorSchema.optional(),
});
export type PublicJob = z.infer<typeof publicJobSchema>;

/**
 * The payload of a BullMQ tool job: what the api hands the worker. Secrets are
 * never part of it; the worker resolves credentials from `connection` itself.
 */
export const toolJobDataSchema = z.object({
  tool: z.string(),
  integration: z.string(),
  input: z.record(z.string(), z.unknown()),
  connection: z.string(),
  agentId: z.string(),
  /** Written by the worker: how often the upstream answered 429 to this job. */
  rateLimitDeferrals: z.int().min(0).optional(),
  /** The api request that submitted the job: sent upstream as `X-Request-Id` and on every log line of the job. */
  requestId: z.string().max(128).optional(),
  /** Written by the worker: the upstream operation this job waits for (an async tool after its first call). */
  asyncWait: asyncWaitSchema.optional(),
  /**
   * Written by the api: the agent had this failed job run again
   * (`POST /v1/jobs/{id}/retry`), so an earlier try may have reached the
   * upstream. Informational; nothing depends on it yet.
   */
  retriedByAgent: z.literal(true).optional(),
  /**
   * An earlier try may have taken effect upstream, so a write without an
   * idempotency key is not sent again blindly (docs/api.md#tool-error-codes-in-joberrorcode): the next try
   * looks its effect up by its reference first (the tool's `verify`), or the
   * job ends OUTCOME_UNKNOWN. Written by the worker (a try that failed after
   * its request may have reached the upstream) and by the api (an agent's
   * retry of an OUTCOME_UNKNOWN job).
   */
  mayHaveApplied: z.literal(true).optional(),
  /**
   * Written by the worker when such a try was the last attempt: the next run
   * only looks the effect up and sends nothing; found, the job succeeds with
   * it, absent, it fails with this error (the last try's).
   */
  lookOnly: jobErrorSchema.optional(),
  /**
   * Written by the api for a job under a spend cap: the UTC day its amounts
   * were counted on (as on its record). The worker commits them before the
   * job's first upstream request (commitSpend); jobs without it pay nothing.
   */
  spendDay: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});
export type ToolJobData = z.infer<typeof toolJobDataSchema>;

/** `POST /v1/jobs` body. */
export const submitJobBodySchema = z.strictObject({
  tool: z.string().min(1).max(200),
  input: z.record(z.string(), z.unknown()).default({}),
  connection: z.string().min(1).max(64).optional(),
  callbackUrl: z.string().max(2048).optional(),
});
export type SubmitJobBody = z.infer<typeof submitJobBodySchema>;

/**
 * `job_` + 32 hex. With `slotTag` (12 hex: `idempotencySlotTag` of the agent
 * and its key) the first 12 hex are that tag, so the job hashes to the same
 * Redis Cluster slot as the idempotency key it is created with; without one
 * they come from the uuid like the rest.
 */
export function newJobId(uuid: string, slotTag?: string): string {
  const hex = uuid.replace(/-/g, '');
  return `job_${slotTag ? `${slotTag}${hex.slice(12)}` : hex}`;
}
