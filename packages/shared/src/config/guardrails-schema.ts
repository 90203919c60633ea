import { z } from 'zod';
import { secretName } from './secret-name';
import { jsonPointerSchema } from './verify-schema';

/*
 * Guardrails for agents with side effects (docs/guardrails.md): which connections an
 * agent may act with, how much it may spend per day, which jobs wait for a
 * person's approval, and keys stored as digests only.
 */

/** A tool name, or a glob over tool names where `*` matches any run of characters (`stripe.*`, `*`). */
const toolGlob = z.string().regex(/^[A-Za-z0-9_.*-]{1,128}$/, 'a tool name or glob such as "stripe.refund*" or "*"');

/** An agent id, or a glob over agent ids. */
const agentGlob = z.string().regex(/^[A-Za-z0-9_.*-]{1,64}$/, 'an agent id or glob such as "support-*"');

// No transform here (agentKeySchema lower-cases): a failed pipe aborts its union option,
// and zod then reports the union's bare "Invalid input" instead of this message.
const sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, 'a sha256 digest: 64 hex characters, as `broker keys hash` prints it');

/**
 * An agent's key: the name of a secret holding it (several, comma separated,
 * during a rotation), or the sha256 digest(s) of the key, so a config can name
 * an agent without any secret store.
 */
export const agentKeySchema = z
  .strictObject({
    secret: secretName.optional(),
    sha256: z.union([sha256Hex, z.array(sha256Hex).min(1).max(16)]).optional(),
  })
  // One object with both fields optional (not a union), so a bad value is reported at its own path.
  .superRefine((key, ctx) => {
    if ((key.secret === undefined) === (key.sha256 === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "secret" (a secret holding the key) or "sha256" (the key\'s digest, as `broker keys hash` prints it)' });
    }
  })
  .transform((key): { secret: string } | { sha256: string[] } =>
    key.sha256 !== undefined ? { sha256: (Array.isArray(key.sha256) ? key.sha256 : [key.sha256]).map((hex) => hex.toLowerCase()) } : { secret: key.secret! },
  );

/**
 * `"<integration>/<connection glob>"`: a connection this agent may use
 * (`"crm/tenant-a"`, `"stripe/*"`). The integration must exist (checked with
 * the whole config).
 */
export const agentConnectionSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}\/[A-Za-z0-9_.*-]{1,64}$/, 'must look like "<integration>/<connection or glob>", e.g. "crm/tenant-a" or "stripe/*"');

/**
 * The sum of one input field over an agent's accepted jobs of the matching
 * tools in one UTC day never exceeds `max`.
 */
export const spendCapSchema = z.strictObject({
  tools: toolGlob,
  /** A JSON pointer into the submitted body, e.g. `/input/amount`: the amount a job spends. */
  sum: jsonPointerSchema.refine((p) => p.startsWith('/'), 'must point into the submitted body, e.g. "/input/amount"'),
  max: z.number().nonnegative().finite(),
  per: z.literal('day').default('day'),
});

const COMPARISONS = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne'] as const;
export type ApprovalComparison = (typeof COMPARISONS)[number];

/**
 * A condition on the submitted body: `{"pointer": "/input/amount", "gt": 1000}`
 * — exactly one comparison. `gt`/`gte`/`lt`/`lte` compare numbers; `eq`/`ne`
 * compare any JSON value.
 */
export const approvalConditionSchema = z
  .strictObject({
    pointer: jsonPointerSchema,
    gt: z.number().finite().optional(),
    gte: z.number().finite().optional(),
    lt: z.number().finite().optional(),
    lte: z.number().finite().optional(),
    eq: z.unknown().optional(),
    ne: z.unknown().optional(),
  })
  .superRefine((when, ctx) => {
    const given = COMPARISONS.filter((op) => when[op] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one comparison of ${COMPARISONS.join(', ')} (found ${given.length ? given.join(', ') : 'none'})` });
    }
  });

/** The longest `approvals[].timeoutSeconds`: 30 days. Whatever holds a job's id must outlive a hold this long. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600;

/** A job matching a rule waits in `awaiting_approval`, before any upstream call, until an operator decides or the timeout passes. */
export const approvalRuleSchema = z.strictObject({
  tools: toolGlob,
  when: approvalConditionSchema.optional(),
  /** Only these agents' jobs are held. @defaultValue every agent */
  agents: z.array(agentGlob).min(1).optional(),
  /** Undecided this long after submission: `failed` `APPROVAL_EXPIRED`. @defaultValue 86400 (a day) */
  timeoutSeconds: z.int().min(1).max(MAX_APPROVAL_TIMEOUT_SECONDS).default(86_400),
});

export type AgentKeyConfig = z.output<typeof agentKeySchema>;
export type SpendCapConfig = z.output<typeof spendCapSchema>;
export type ApprovalRuleConfig = z.output<typeof approvalRuleSchema>;
export type ApprovalConditionConfig = z.output<typeof approvalConditionSchema>;
