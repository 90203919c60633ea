import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric the broker exports, defined once so the api and the
 * worker name and label them the same way. Each process has its own registry
 * (Prometheus scrapes each process); label values come from config names and
 * fixed enums, never from ids, so cardinality stays bounded.
 */
export function createMetrics(options: { defaultMetrics?: boolean; prefix?: string } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'broker_' }); // broker_process_cpu_…, broker_nodejs_…
  const registers = [registry];
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  /** Where broker_queue_jobs reads its numbers at scrape time; see readQueueDepthsFrom. */
  let queueDepths: QueueDepthSource | undefined;

  return {
    registry,
    httpRequests: new Counter({
      name: 'broker_http_requests_total',
      help: 'HTTP requests answered by the API, by route template, method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'broker_http_request_duration_seconds',
      help: 'Time to answer an HTTP request.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets,
      registers,
    }),
    jobsSubmitted: new Counter({
      name: 'broker_jobs_submitted_total',
      help: 'Jobs accepted by the API (replays of an idempotency key excluded).',
      labelNames: ['integration', 'tool'] as const,
      registers,
    }),
    jobsFinished: new Counter({
      name: 'broker_jobs_finished_total',
      help: 'Jobs that reached a terminal state, by final status.',
      labelNames: ['integration', 'tool', 'status'] as const,
      registers,
    }),
    toolErrors: new Counter({
      name: 'broker_tool_errors_total',
      help: 'Failed tries of tool jobs, by error code.',
      labelNames: ['integration', 'code'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'broker_job_retries_total',
      help: 'Tries that will be retried after a backoff.',
      labelNames: ['integration'] as const,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'broker_upstream_call_duration_seconds',
      help: 'Upstream call latency, by integration and status class (2xx, 4xx, 5xx, network).',
      labelNames: ['integration', 'status_class'] as const,
      buckets,
      registers,
    }),
    deferrals: new Counter({
      name: 'broker_rate_limit_deferrals_total',
      help: 'Tries put back without spending an attempt, by scope (integration, connection) and reason.',
      labelNames: ['integration', 'scope', 'reason'] as const,
      registers,
    }),
    earlierTryLookups: new Counter({
      name: 'broker_earlier_try_lookups_total',
      help: 'Lookups of what an earlier try of an unkeyed write did, before it is sent again, by outcome (found, absent, unknown).',
      labelNames: ['integration', 'outcome'] as const,
      registers,
    }),
    pauses: new Counter({
      name: 'broker_rate_limit_pauses_total',
      help: 'Times an integration was paused for every worker (429 or Retry-After).',
      labelNames: ['integration'] as const,
      registers,
    }),
    circuitState: new Gauge({
      name: 'broker_circuit_state',
      help: 'Circuit breaker state per integration: 0 closed, 1 half-open, 2 open.',
      labelNames: ['integration'] as const,
      registers,
    }),
    webhooksReceived: new Counter({
      name: 'broker_webhooks_received_total',
      help: 'Webhook posts by source and outcome (accepted, duplicate, rejected).',
      labelNames: ['source', 'outcome'] as const,
      registers,
    }),
    triggerDeliveries: new Counter({
      name: 'broker_trigger_deliveries_total',
      help: 'Trigger delivery tries by outcome (delivered, retried, failed).',
      labelNames: ['trigger', 'outcome'] as const,
      registers,
    }),
    callbackDeliveries: new Counter({
      name: 'broker_callback_deliveries_total',
      help: 'Job completion callback tries by outcome (delivered, retried, failed).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    jobsFailed: new Counter({
      name: 'broker_jobs_failed_total',
      help: 'Jobs that failed for good, by error code (what alerting on UPSTREAM_ERROR/UNKNOWN rates reads).',
      labelNames: ['integration', 'code'] as const,
      registers,
    }),
    asyncWaits: new Counter({
      name: 'broker_async_waits_total',
      help: 'Async tool waits by outcome (started, succeeded, failed, timeout).',
      labelNames: ['integration', 'outcome'] as const,
      registers,
    }),
    asyncChecks: new Counter({
      name: 'broker_async_status_checks_total',
      help: 'Status checks of waiting async jobs, by result (pending, done, failed, error, deferred).',
      labelNames: ['integration', 'result'] as const,
      registers,
    }),
    webhookCorrelations: new Counter({
      name: 'broker_webhook_correlations_total',
      help: 'Stored webhook events that completed a waiting async job.',
      labelNames: ['source'] as const,
      registers,
    }),
    schemaMismatches: new Counter({
      name: 'broker_schema_mismatches_total',
      help: "Upstream answers that broke a tool's output schema.",
      labelNames: ['integration', 'tool'] as const,
      registers,
    }),
    reauthRequired: new Counter({
      name: 'broker_connection_reauth_required_total',
      help: 'Times a connection was found needing re-authorisation (refresh refused, or credentials refused after a retry).',
      labelNames: ['integration', 'connection'] as const,
      registers,
    }),
    circuitOpenSeconds: new Gauge({
      name: 'broker_circuit_open_seconds',
      help: 'How long the circuit breaker has not been closed (0 when closed), as last read by the alert monitor.',
      labelNames: ['integration'] as const,
      registers,
    }),
    deadLetters: new Gauge({
      name: 'broker_dead_letter_jobs',
      help: "Jobs in a queue's failed set, as last read by the alert monitor.",
      labelNames: ['queue'] as const,
      registers,
    }),
    apiDeprecated: new Gauge({
      name: 'broker_api_deprecated',
      help: 'An upstream said this API version is deprecated (1), seen by this process.',
      labelNames: ['integration', 'api_version'] as const,
      registers,
    }),
    apiSunset: new Gauge({
      name: 'broker_api_sunset_timestamp_seconds',
      help: 'When the upstream said this API version stops working (Sunset header), Unix seconds.',
      labelNames: ['integration', 'api_version'] as const,
      registers,
    }),
    alertsRaised: new Counter({
      name: 'broker_alerts_total',
      help: 'Alert causes raised, every occurrence, by kind (before deduplication).',
      labelNames: ['kind'] as const,
      registers,
    }),
    alertNotifications: new Counter({
      name: 'broker_alert_notifications_total',
      help: "Alert notifications by kind and outcome (sent, failed, suppressed: inside the cause's window, logged: no webhook configured).",
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    auditWriteFailures: new Counter({
      name: 'broker_audit_write_failures_total',
      help: 'Audit trail entries that could not be written (the job went on without them), by event.',
      labelNames: ['event'] as const,
      registers,
    }),
    queueJobs: new Gauge({
      name: 'broker_queue_jobs',
      help: 'Jobs per queue and state, read when scraped.',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        // Rows of a queue that vanished must not linger, and a failed read shows no numbers rather than stale ones.
        this.reset();
        if (!queueDepths) return;
        for (const row of await queueDepths().catch(() => [])) this.set({ queue: row.queue, state: row.state }, row.count);
      },
    }),
    /** Sets the reader behind broker_queue_jobs (the process that owns the queues calls it once). */
    readQueueDepthsFrom(source: QueueDepthSource): void {
      queueDepths = source;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** One row of broker_queue_jobs. */
export interface QueueDepth {
  queue: string;
  state: string;
  count: number;
}

/** Reads queue depths when Prometheus scrapes; it should bound its own time (a scrape must not hang on Redis). */
export type QueueDepthSource = () => Promise<QueueDepth[]>;

/** `204` → `2xx`; transport failures have no status. */
export function statusClass(status: number | undefined): string {
  return status === undefined ? 'network' : `${Math.floor(status / 100)}xx`;
}
