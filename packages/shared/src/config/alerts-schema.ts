import { z } from 'zod';

/*
 * `alerts`: where a person hears about what retries cannot fix (revoked
 * credentials, a circuit that stays open, schema drift, permanent failures,
 * dead letters, exhausted trigger deliveries, API deprecations). Without a
 * `webhook`, alerts are still logged and counted in metrics.
 */

const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a secret name (letters, digits, _), not a secret value');

export const alertWebhookSchema = z
  .strictObject({
    /** `slack`: a Slack incoming-webhook body (`text` + `blocks`); `standard`: a Standard-Webhooks-signed JSON body. */
    format: z.enum(['slack', 'standard']),
    /** Where alerts are POSTed. A Slack webhook URL is itself a secret: give it with `urlSecret` instead. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** The secret holding the URL (Slack's `https://hooks.slack.com/services/…`). */
    urlSecret: secretName.optional(),
    /** Signs `standard` bodies (`whsec_<base64>`); comma-separated values sign with each. */
    secret: secretName.optional(),
    /** @defaultValue 5000 */
    timeoutMs: z.int().positive().max(60_000).default(5000),
  })
  .superRefine((hook, ctx) => {
    if ((hook.url === undefined) === (hook.urlSecret === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of "url" and "urlSecret"' });
    }
    if (hook.format === 'standard' && !hook.secret) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'format "standard" needs the signing secret' });
    }
  });

export const alertsSchema = z.strictObject({
  webhook: alertWebhookSchema.optional(),
  /** One alert per cause per window; later occurrences are counted into the next alert. @defaultValue 900000 (15 min) */
  windowMs: z
    .int()
    .min(100)
    .max(7 * 24 * 3600 * 1000)
    .default(15 * 60 * 1000),
  /** How often each worker looks at breakers and dead letters. @defaultValue 15000 */
  checkIntervalMs: z.int().min(20).max(3_600_000).default(15_000),
  /** A circuit not closed for this long raises `circuit_open`. @defaultValue 300000 (5 min) */
  circuitOpenMs: z
    .int()
    .min(0)
    .default(5 * 60 * 1000),
  /** Jobs failing for good with `UPSTREAM_ERROR`/`UNKNOWN`, per integration, over a sliding window. */
  failureRate: z
    .strictObject({
      /** Share of finished jobs, 0–1. @defaultValue 0.2 */
      threshold: z.number().gt(0).max(1).default(0.2),
      /** Fewer finished jobs than this in the window never alert. @defaultValue 20 */
      minJobs: z.int().positive().default(20),
      /** @defaultValue 300000 (5 min) */
      windowMs: z
        .int()
        .min(100)
        .default(5 * 60 * 1000),
    })
    .default({ threshold: 0.2, minJobs: 20, windowMs: 5 * 60 * 1000 }),
  /** Failed (dead-letter) jobs of one queue growing by this many within `windowMs` raise `dead_letters`. @defaultValue 10 */
  deadLetterGrowth: z.int().positive().default(10),
});

export type AlertsConfig = z.output<typeof alertsSchema>;
export type AlertWebhookConfig = z.output<typeof alertWebhookSchema>;

/** The settings when the file has no `alerts` section: logs and metrics only. */
export const DEFAULT_ALERTS: AlertsConfig = alertsSchema.parse({});
