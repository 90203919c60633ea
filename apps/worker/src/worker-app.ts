import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient } from '@broker/redis/connection';
import { AuditTrail } from '@broker/redis/audit/audit-trail';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { BACKOFF_TYPE } from '@broker/shared/jobs/options';
import { commitSpend } from '@broker/redis/limits/spend-reservations';
import { CorrelationStore } from '@broker/redis/async/correlation-store';
import { createMetrics, type Metrics } from '@broker/shared/metrics';
import { EventStore } from '@broker/redis/webhooks/event-store';
import { JobStore } from '@broker/redis/jobs/job-store';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import type { Lookup } from '@broker/shared/net/ip-policy';
import type { SecretsProvider } from '@broker/tools/secrets/provider';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import { createIntegrationClients, createToolRegistry, type EgressProxy, type ToolRegistry } from '@broker/tools';
import { responseObservers } from './alerts/deprecation-watch';
import { createAlertRequestWorker } from './alerts/alert-requests';
import { createEscalations, type EscalationKit } from './alerts/escalation-wiring';
import { AsyncWaits } from './async-tools/async-waits';
import { JobAudit } from './audit/job-audit';
import { createCallbackWorker, type CallbackWorker } from './callbacks/callback-worker';
import { callbackResender, FinishReportingJobStore, jobFinishedListener, type JobFinishedDeps } from './callbacks/job-finished';
import { AdaptiveLimits } from './limits/adaptive-limits';
import { CallGate } from './limits/call-gate';
import { CircuitBreaker } from './limits/circuit-breaker';
import { oauthCredentialsFor } from './oauth/oauth-credentials';
import { createToolJobProcessor, RetryLaterError } from './tool-jobs/process-tool-job';
import { MAX_IN_TRY_GATE_WAIT_MS } from './tool-jobs/call-admission';
import { ClaimLost } from './tool-jobs/claim-lost';
import { recordEscapedFailure } from './tool-jobs/record-escaped-failure';
import { fullJitter, MAX_WAIT_MS } from './tool-jobs/decide-try';
import { createTriggerWorker, type TriggerWorker } from './triggers/trigger-worker';

export interface WorkerAppDeps {
  config: BrokerConfig;
  /** A worker-role connection (`maxRetriesPerRequest: null`); BullMQ duplicates it for blocking reads. */
  redis: RedisClient;
  prefix: string;
  secrets: SecretsProvider;
  logger: Logger;
  registry?: ToolRegistry;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** @defaultValue a fresh registry for this worker */
  metrics?: Metrics;
  /** How often the webhook trigger outbox is swept. @defaultValue 5000 */
  outboxSweepMs?: number;
  /** Completion callback delivery knobs; tests inject a resolver and shorter delays. */
  callbacks?: { lookup?: Lookup; baseDelayMs?: number; timeoutMs?: number };
  /** Upstream calls go through this proxy. @defaultValue undefined: direct */
  egressProxy?: EgressProxy;
}

export interface WorkerApp {
  workers: ReadonlyMap<string, Worker>;
  metrics: Metrics;
  /** Delivers completion callbacks; undefined when the config has no `callbacks` section. */
  callbacks: CallbackWorker | undefined;
  /** Delivers webhook triggers; undefined when the config has no `triggerDelivery`. */
  triggers: TriggerWorker | undefined;
  /** Alerts, deprecation watch and the breaker / dead-letter monitor. */
  escalation: EscalationKit;
  /** Resolves once every worker is connected and taking jobs. */
  ready(): Promise<void>;
  /** Stops taking jobs, lets running ones finish, closes queues. Runs once. */
  close(): Promise<void>;
}

/**
 * BullMQ's limiter is not used to limit (it counts fixed windows); it is set
 * only so that `queue.rateLimit(ms)` — the pause our sliding-window gate and
 * 429s call for — is honoured: BullMQ checks that pause only on queues with a
 * limiter. The max is out of reach on purpose.
 */
const PAUSE_ONLY_LIMITER = { max: 1_000_000_000, duration: 1000 };

/** One BullMQ worker per integration, each at the integration's concurrency. */
export function createWorkerApp(deps: WorkerAppDeps): WorkerApp {
  const { config, redis, prefix, logger } = deps;
  const keys = redisKeys(prefix);
  const metrics = deps.metrics ?? createMetrics();
  const storeOptions = { retentionSeconds: config.retention.jobSeconds };
  const callbacks = createCallbackWorker({
    config,
    redis,
    prefix,
    store: new JobStore(redis, keys, storeOptions),
    secrets: deps.secrets,
    logger,
    metrics,
    ...deps.callbacks,
  });
  const queues = new Map<string, Queue>();
  const escalation = createEscalations({ config, redis, prefix, keys, secrets: deps.secrets, logger, metrics }, { tools: () => queues.values(), callbacks: callbacks?.queue });
  const { escalations } = escalation;
  // Alerts the api asks for (approval_requested): it never calls out itself.
  const alertRequests = createAlertRequestWorker({ config, redis, prefix, store: new JobStore(redis, keys, storeOptions), alerter: escalation.alerter, logger });
  const audit = new JobAudit(new AuditTrail(redis, keys, { retentionDays: config.retention.auditDays, logger, metrics }));
  // Every job this worker finishes is counted, audited, and its callback queued, where the record turns terminal.
  const finishing: JobFinishedDeps = {
    redis,
    keys,
    metrics,
    audit,
    observe: (job) => escalations.jobFinished(job),
    ...(callbacks ? { enqueueCallback: (id: string, retries: number) => callbacks.enqueue(id, retries) } : {}),
  };
  const store = new FinishReportingJobStore(redis, keys, storeOptions, jobFinishedListener(finishing), logger);
  const registry = deps.registry ?? createToolRegistry(config);
  const onNeedsReauth = (integration: string, connection: string, reason: string) => escalations.needsReauth({ integration, connection, reason });
  const clients = createIntegrationClients(
    config,
    deps.secrets,
    logger,
    oauthCredentialsFor({ config, redis, keys, secrets: deps.secrets, logger, onNeedsReauth, egressProxy: deps.egressProxy }),
    deps.egressProxy,
  );
  const workers = new Map<string, Worker>();

  for (const name of Object.keys(config.integrations)) {
    queues.set(name, new Queue(integrationQueueName(name), { connection: redis, prefix: bullPrefix(prefix, integrationQueueName(name)) }));
  }
  const gate = new CallGate(redis, keys);
  const breaker = new CircuitBreaker(redis, keys, metrics, { gateWaitMs: MAX_IN_TRY_GATE_WAIT_MS });
  const adaptive = new AdaptiveLimits(gate, metrics);
  const asyncWaits = new AsyncWaits({
    config,
    store,
    correlations: new CorrelationStore(redis, keys),
    events: new EventStore(redis, keys),
    gate,
    breaker,
    clients,
    metrics,
    escalations,
    resendCallback: callbackResender(finishing),
    audit,
    observers: (name, connection, tool, log) =>
      responseObservers(adaptive.observer(name, config.integrations[name]!, connection, log), escalation.deprecations.observer(name, tool.name, tool.apiVersion, log)).onResponse,
  });
  const processTry = createToolJobProcessor({
    config,
    registry,
    clients,
    store,
    gate,
    breaker,
    adaptive,
    queues,
    logger,
    metrics,
    resendCallback: callbackResender(finishing),
    asyncWaits,
    escalations,
    deprecations: escalation.deprecations,
    audit,
    commitSpend: (job) => commitSpend(redis, keys, job),
  });
  // A run that did not end its job (a retry, a deferral, an async wait) writes its held audit entries as it returns.
  const processor = async (job: Job<ToolJobData>, token?: string) => {
    try {
      return await processTry(job, token);
    } finally {
      audit.flush(job.id!);
    }
  };

  const recordEscaped = recordEscapedFailure({ store, registry, logger });
  for (const [name, integration] of Object.entries(config.integrations)) {
    const worker = new Worker<ToolJobData>(integrationQueueName(name), processor, {
      connection: redis,
      prefix: bullPrefix(prefix, integrationQueueName(name)),
      concurrency: integration.concurrency,
      limiter: PAUSE_ONLY_LIMITER,
      lockDuration: deps.lockDurationMs ?? 30_000,
      stalledInterval: deps.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
          if (err instanceof RetryLaterError) return err.delayMs;
          if (type !== BACKOFF_TYPE) return 0;
          // A retry of an error that escaped the try's own decision: capped like every wait (decide-try.ts).
          return Math.min(fullJitter(attemptsMade, integration.retry), MAX_WAIT_MS);
        },
      },
    });
    worker.on('failed', (job: Job<ToolJobData> | undefined, err: Error) => {
      if (!job?.id) return;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      // A try fenced out by a later claim: the record is that try's to write.
      if (!final || err instanceof ClaimLost) return;
      recordEscaped(job, err).catch((e: unknown) => logger.error({ err: e, jobId: job.id }, 'could not record failure'));
    });
    worker.on('error', (err) => logger.error({ err, integration: name }, 'worker error'));
    workers.set(name, worker);
  }

  const triggers = createTriggerWorker({
    config,
    redis,
    prefix,
    secrets: deps.secrets,
    logger,
    metrics,
    ...(deps.lockDurationMs !== undefined ? { lockDurationMs: deps.lockDurationMs } : {}),
    ...(deps.stalledIntervalMs !== undefined ? { stalledIntervalMs: deps.stalledIntervalMs } : {}),
    ...(deps.outboxSweepMs !== undefined ? { outboxSweepMs: deps.outboxSweepMs } : {}),
    onExhausted: (delivery) => escalations.triggerExhausted(delivery),
  });

  let closing: Promise<void> | undefined;
  return {
    workers,
    metrics,
    callbacks,
    triggers,
    escalation,
    async ready() {
      await triggers?.ready();
      await Promise.all([...workers.values(), ...(callbacks ? [callbacks.worker] : []), ...(alertRequests ? [alertRequests] : [])].map((w) => w.waitUntilReady()));
      escalation.start();
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...workers.values()].map((w) => w.close()));
        await triggers?.close();
        // Before the alerter settles: a request being read may still raise an alert.
        await alertRequests?.close();
        // Before the callbacks queue closes: the monitor reads it; after the workers: their last jobs may raise alerts.
        await escalation.close();
        // After the tool workers: their last jobs may still queue callbacks.
        await callbacks?.close();
        await Promise.all([...queues.values()].map((q) => q.close()));
      })();
      return closing;
    },
  };
}
