import { z } from 'zod';
import { JSON_PATH_PATTERN } from '../async/json-path';

/*
 * `async` of a declared tool: the first call answers "accepted" with a
 * reference, and the job stays running until a status check or a correlated
 * webhook says the upstream operation ended, or the deadline passes.
 */

export const jsonPathSchema = z.string().max(200).regex(JSON_PATH_PATTERN, 'must be a JSON path such as "$.data.object.id" or "status"');

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** `{ "path": "$.status", "equals": "done" }` or `{ "path": "$.status", "in": ["failed", "expired"] }`. */
export const statusRuleSchema = z
  .strictObject({ path: jsonPathSchema, equals: scalar.optional(), in: z.array(scalar).min(1).optional() })
  .refine((rule) => (rule.equals === undefined) !== (rule.in === undefined), 'give exactly one of "equals" and "in"');

/** One type, or several, of the webhook source's events (exact types: they are looked up, not matched). */
const eventTypes = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(20)]);

export const asyncPollSchema = z
  .strictObject({
    /** @defaultValue "GET" */
    method: z.enum(['GET', 'POST']).default('GET'),
    /** Below the integration's baseUrl; `{reference}` and the input's `{param}`s are filled in. */
    path: z.string().startsWith('/'),
    doneWhen: statusRuleSchema,
    failedWhen: statusRuleSchema.optional(),
    /** When given, an answer matching none of the three rules fails the job (`UNKNOWN`). */
    pendingWhen: statusRuleSchema.optional(),
    /** Where the result is in the finished answer. @defaultValue the whole answer */
    resultPath: jsonPathSchema.optional(),
    /** What to show as the job's `progress.upstream` while pending (e.g. `$.percent`). */
    progressPath: jsonPathSchema.optional(),
    /** First check this long after the first call; doubled after each check. @defaultValue 2000 */
    intervalMs: z.int().min(10).max(3_600_000).default(2000),
    /** @defaultValue 60000 */
    maxIntervalMs: z.int().min(10).max(3_600_000).default(60_000),
  })
  .refine((poll) => poll.maxIntervalMs >= poll.intervalMs, { message: 'maxIntervalMs must be >= intervalMs', path: ['maxIntervalMs'] });

export const asyncWebhookSchema = z.strictObject({
  /** A source of the config's `webhooks`. */
  source: z.string().min(1),
  /** The event type(s) that complete the job. */
  event: eventTypes,
  /** The event type(s) that fail it. */
  failEvent: eventTypes.optional(),
  /** Where the reference is in the event, e.g. `$.data.object.id` for Stripe. */
  path: jsonPathSchema,
  /** Where the result is in the event. @defaultValue the whole event body */
  resultPath: jsonPathSchema.optional(),
});

/** The longest async `deadlineMs`: 7 days. Whatever holds a job's id must outlive a deadline this long. */
export const MAX_ASYNC_DEADLINE_MS = 7 * 24 * 3600 * 1000;

export const asyncToolSchema = z
  .strictObject({
    /** Where the upstream reference is in the first answer, e.g. `$.id`. */
    referencePath: jsonPathSchema,
    /** The job fails `TIMEOUT` (with the reference) this long after the first call. @defaultValue 900000 (15 min) */
    deadlineMs: z
      .int()
      .min(100)
      .max(MAX_ASYNC_DEADLINE_MS)
      .default(15 * 60 * 1000),
    poll: asyncPollSchema.optional(),
    webhook: asyncWebhookSchema.optional(),
  })
  .refine((spec) => spec.poll !== undefined || spec.webhook !== undefined, 'give "poll", "webhook" or both');

export type AsyncToolConfig = z.output<typeof asyncToolSchema>;
export type StatusRule = z.output<typeof statusRuleSchema>;
export type AsyncPollConfig = z.output<typeof asyncPollSchema>;
export type AsyncWebhookConfig = z.output<typeof asyncWebhookSchema>;

/** Whether `value` satisfies a status rule (strict equality on scalars). */
export function matchesRule(rule: StatusRule, value: unknown): boolean {
  if (rule.in) return rule.in.some((candidate) => candidate === value);
  return rule.equals === value;
}

/** An event-type field as a list. */
export function eventTypeList(value: string | readonly string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
}
