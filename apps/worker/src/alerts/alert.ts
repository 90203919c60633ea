/**
 * What a person must hear about because retries cannot fix it. `key` names
 * the cause within its kind (an integration, a tool, a queue, a trigger, a
 * connection): alerts are deduplicated and rate-limited per `kind:key`.
 */
export const ALERT_KINDS = [
  'connection_needs_reauth',
  'circuit_open',
  'schema_mismatch',
  'job_failure_rate',
  'dead_letters',
  'trigger_delivery_exhausted',
  'api_deprecation',
  'approval_requested',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  kind: AlertKind;
  key: string;
  severity: 'warning' | 'critical';
  /** One line a person can act on. */
  summary: string;
  /** Facts for the receiver; never secrets, never raw upstream values (samples are redacted). */
  details: Record<string, unknown>;
}

/** An alert as sent: one per cause per window. */
export interface AlertNotice extends Alert {
  id: string;
  /** `kind:key`. */
  cause: string;
  /** Occurrences of the cause since the previous alert for it (this one included). */
  count: number;
  /** The dedupe window: no second alert for this cause within it. 0 for once-only alerts. */
  windowMs: number;
  at: string;
}

export const ALERT_TITLES: Readonly<Record<AlertKind, string>> = {
  connection_needs_reauth: 'Connection needs re-authorisation',
  circuit_open: 'Circuit breaker stays open',
  schema_mismatch: 'Upstream answer breaks the output schema',
  job_failure_rate: 'Jobs failing for good',
  dead_letters: 'Dead-letter queue growing',
  trigger_delivery_exhausted: 'Trigger delivery gave up',
  api_deprecation: 'Upstream API version deprecated',
  approval_requested: 'A job waits for approval',
};
