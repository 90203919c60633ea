import { z } from 'zod';

/**
 * How many requests one agent may make to the API per window: a fixed window
 * counted in Redis, so every API process shares it (docs/guardrails.md "Request limits per agent").
 */
export const apiRateLimitSchema = z.strictObject({
  max: z.int().positive(),
  /** @defaultValue none: the window is required */
  windowMs: z
    .int()
    .min(1000)
    .max(24 * 3600 * 1000),
});

/** A tool name, or a glob over tool names where `*` matches any run of characters (`stripe.*`, `*`). */
const toolGlob = z.string().regex(/^[A-Za-z0-9_.*-]{1,128}$/, 'a tool name or glob such as "stripe.*" or "*"');

/**
 * Cost guard: at most `n` jobs per UTC day of the tools a glob matches, all of
 * them together (`{"stripe.*": 100, "*": 1000}`); a job counts against every
 * glob that matches it.
 */
export const dailyJobCapsSchema = z.record(toolGlob, z.int().positive());

export type ApiRateLimit = z.output<typeof apiRateLimitSchema>;
