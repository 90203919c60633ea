import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { TERMINAL_STATUSES, type ToolJobData } from '@broker/shared/jobs/schema';
import { waitProgress, type AsyncWait } from '@broker/shared/async/wait-state';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { CorrelationStore } from '@broker/redis/async/correlation-store';
import type { EventStore, StoredEvent } from '@broker/redis/webhooks/event-store';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import { ToolError, type IntegrationClient, type Pending, type RunnableTool, type UpstreamAnswerHeaders } from '@broker/tools';
import type { Escalations } from '../alerts/escalations';
import type { JobAudit } from '../audit/job-audit';
import type { CallGate } from '../limits/call-gate';
import type { CircuitBreaker } from '../limits/circuit-breaker';
import { findStoredEvent, outcomeOfEvent } from './event-completion';
import { runStatusCheck } from './status-check';
import { afterCheck, checkDue, deadlineError, nextWake, planWait } from './wait-plan';

export interface AsyncWaitDeps {
  config: BrokerConfig;
  /** The reporting store: a job finished here is counted and its callback queued like any other. */
  store: JobStore;
  correlations: CorrelationStore;
  events: EventStore;
  gate: CallGate;
  breaker: CircuitBreaker;
  clients: ReadonlyMap<string, IntegrationClient>;
  metrics: Metrics;
  escalations?: Escalations;
  /** Queues the callback of a job found already finished (its worker died before it could). */
  resendCallback?: (jobId: string) => Promise<void>;
  /** The answer observers of a status check (adaptive limits, deprecation watch). */
  observers?: (integration: string, connection: string, tool: RunnableTool, log: Logger) => ((answer: UpstreamAnswerHeaders) => void) | undefined;
  /** Each status check is a `call` entry of the audit trail. */
  audit?: JobAudit;
}

/** One run of a tool job, as the processor hands it over. */
export interface WaitRun {
  job: Job<ToolJobData>;
  token: string | undefined;
  data: ToolJobData;
  tool: RunnableTool;
  input: unknown;
  log: Logger;
}

/**
 * An event may have been received this long before its job began and still
 * complete it: the api and the worker stamp times with their own clocks.
 */
const EVENT_CLOCK_SKEW_MS = 60_000;

/** When registering a wait failed halfway, the job looks again this soon. */
const RETRY_SOON_MS = 1000;

/**
 * Async tools (docs/async-tools.md "Async tools"). After a first call that answered
 * "pending", the job stays `running` with the reference in `progress` and
 * sleeps as a BullMQ delayed job — no worker slot held — until:
 * - its next status check is due (backoff from the tool's interval to its
 *   cap; checks pass the breaker and the call gate like any call);
 * - a verified webhook event carrying the reference was stored: the api
 *   claims the job for it and promotes the delayed job, so it runs at once;
 * - the deadline: one last look (a check, the stored events), then `TIMEOUT`
 *   with the reference in the message.
 * Every run of a waiting job starts from what its BullMQ payload says
 * (`asyncWait`), so a crash or a Redis hiccup only delays it.
 */
export class AsyncWaits {
  constructor(private readonly deps: AsyncWaitDeps) {}

  /** The first call answered `pending`: start waiting. Throws DelayedError (asleep) or UnrecoverableError (failed). */
  async begin(run: WaitRun, pending: Pending): Promise<{ status: string }> {
    const { job, data, log } = run;
    const wait = planWait(run.tool, pending, Date.now(), this.deps.config.integrations[data.integration]?.asyncPoll);
    // From here on, every run of this job is a wake-up, never a second first call.
    await job.updateData({ ...data, asyncWait: wait });
    this.deps.metrics.asyncWaits.inc({ integration: data.integration, outcome: 'started' });
    log.info(
      { reference: wait.reference, deadline: new Date(wait.deadline).toISOString(), poll: Boolean(wait.poll), webhook: wait.webhook?.source },
      'job waits for its upstream operation',
    );
    try {
      await this.deps.store.setProgress(job.id!, waitProgress(wait));
      if (wait.webhook) {
        await this.deps.correlations.register(job.id!, data.integration, wait);
        const early = await this.eventAlreadyStored(run, wait);
        if (early) return this.finishFromEvent(run, wait, early);
      }
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      log.warn({ err: (err as Error).message }, 'async wait not fully registered; looking again shortly');
      return this.sleepUntil(run, wait, Date.now() + RETRY_SOON_MS);
    }
    return this.sleepUntil(run, wait, nextWake(wait));
  }

  /** A later run of a waiting job. */
  async resume(run: WaitRun): Promise<{ status: string }> {
    const { job, data, log } = run;
    const id = job.id!;
    let wait = data.asyncWait!;
    const record = await this.deps.store.get(id);
    if (!record || TERMINAL_STATUSES.has(record.status)) {
      await this.deps.correlations.release(id, wait);
      log.info({ status: record?.status ?? 'missing' }, 'async wait ended: job already %s', record?.status ?? 'missing');
      if (record) await this.deps.resendCallback?.(id);
      return { status: record?.status ?? 'missing' };
    }

    if (wait.webhook) {
      // Idempotent: also repairs a registration that failed, and keeps the keys alive until the deadline.
      await this.deps.correlations.register(id, data.integration, wait);
      const claimed = await this.deps.correlations.claimedEvent(id);
      const event = claimed ? await this.deps.events.get(claimed.eventId) : undefined;
      if (event) return this.finishFromEvent(run, wait, event);
      if (claimed) log.warn({ eventId: claimed.eventId }, 'the event claimed for this job is no longer stored');
    }

    let now = Date.now();
    let lastError: string | undefined;
    if (checkDue(wait, now)) {
      const result = await this.check(run, wait);
      // The next check is timed from this one's answer: however long this one
      // waited for its admission or its socket, the upstream sees at least the
      // interval between two checks.
      now = Date.now();
      this.deps.metrics.asyncChecks.inc({ integration: data.integration, result: result.state });
      switch (result.state) {
        case 'done':
          return this.finishWith(run, { ...wait, checks: wait.checks + 1 }, result.output);
        case 'failed':
          return this.failWith(run, { ...wait, checks: wait.checks + 1 }, result.error, 'failed');
        case 'pending':
          wait = { ...afterCheck(wait, now), ...(result.progress !== undefined ? { upstream: result.progress } : {}) };
          break;
        case 'deferred':
          // Held back (a pause, a full window, the breaker): sleep until it lets calls through, or until the
          // deadline's last look. Not nextWake: the check was due, so poll.nextAt is past, and waking
          // then would run the job again at once, over and over, until the deadline.
          if (now < wait.deadline) return this.sleepUntil(run, wait, Math.min(now + result.waitMs, wait.deadline));
          break;
        case 'error':
          if (!result.error.retryable) return this.failWith(run, { ...wait, checks: wait.checks + 1 }, result.error, 'failed');
          lastError = `${result.error.code}: ${result.error.message}`;
          log.warn({ code: result.error.code, upstreamStatus: result.error.upstreamStatus }, 'status check failed; the next one follows the backoff');
          wait = afterCheck(wait, now);
          break;
      }
    }

    now = Date.now();
    if (now >= wait.deadline) {
      const late = await this.eventAlreadyStored(run, wait);
      if (late) return this.finishFromEvent(run, wait, late);
      return this.failWith(run, wait, deadlineError(run.tool.name, wait), 'timeout');
    }
    return this.sleepUntil(run, wait, nextWake(wait), lastError);
  }

  private check(run: WaitRun, wait: AsyncWait) {
    const { data, tool, log } = run;
    const onResponse = this.deps.observers?.(data.integration, data.connection, tool, log);
    const onCall = this.deps.audit?.calls({ jobId: run.job.id!, agent: data.agentId, tool: data.tool, connection: data.connection });
    return runStatusCheck(this.deps, {
      jobId: run.job.id!,
      submittedAt: run.job.timestamp,
      name: data.integration,
      integration: this.deps.config.integrations[data.integration]!,
      client: this.deps.clients.get(data.integration)!,
      tool,
      input: run.input,
      connection: data.connection,
      reference: wait.reference,
      requestId: data.requestId ?? `${run.job.id}-check-${wait.checks + 1}`,
      log,
      ...(onResponse ? { onResponse } : {}),
      ...(onCall ? { onCall } : {}),
    });
  }

  /** A stored event for this wait (it came before the wait began, or its correlation was missed), claimed for the job. */
  private async eventAlreadyStored(run: WaitRun, wait: AsyncWait): Promise<StoredEvent | undefined> {
    if (!wait.webhook) return undefined;
    const id = run.job.id!;
    const found = await findStoredEvent(this.deps.events, wait, run.job.timestamp - EVENT_CLOCK_SKEW_MS);
    if (found) await this.deps.correlations.claim(id, found.id, found.type);
    // Whichever event won the claim (the api may have claimed one meanwhile) is the one that counts.
    const claimed = await this.deps.correlations.claimedEvent(id);
    if (!claimed) return undefined;
    return claimed.eventId === found?.id ? found : this.deps.events.get(claimed.eventId);
  }

  private async finishFromEvent(run: WaitRun, wait: AsyncWait, event: StoredEvent): Promise<{ status: string }> {
    run.log.info({ eventId: event.id, type: event.type, reference: wait.reference }, 'webhook event ends the wait');
    const outcome = outcomeOfEvent(run.tool, run.input, wait, event);
    return outcome.kind === 'done' ? this.finishWith(run, wait, outcome.value) : this.failWith(run, wait, outcome.error, 'failed');
  }

  private async finishWith(run: WaitRun, wait: AsyncWait, output: unknown): Promise<{ status: string }> {
    const { job, data, tool, log } = run;
    const checked = tool.validateOutput(output);
    if (!checked.ok) {
      this.deps.escalations?.schemaMismatch({ integration: data.integration, tool: tool.name, errors: checked.errors, sample: output, jobId: job.id! });
      const fields = checked.errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ');
      return this.failWith(run, wait, new ToolError('SCHEMA_MISMATCH', { message: `upstream answer does not match the output schema: ${fields}` }), 'failed');
    }
    await this.deps.store.setProgress(job.id!, waitProgress(wait, undefined, 'done'));
    await this.deps.store.succeed(job.id!, checked.value);
    await this.deps.correlations.release(job.id!, wait);
    this.deps.metrics.asyncWaits.inc({ integration: data.integration, outcome: 'succeeded' });
    log.info({ reference: wait.reference, checks: wait.checks, waitedMs: Date.now() - wait.since }, 'job succeeded');
    return { status: 'succeeded' };
  }

  private async failWith(run: WaitRun, wait: AsyncWait, error: ToolError, outcome: 'failed' | 'timeout'): Promise<never> {
    const { job, data, log } = run;
    await this.deps.store.setProgress(job.id!, waitProgress(wait, undefined, outcome === 'timeout' ? 'timed_out' : 'failed'));
    await this.deps.store.fail(job.id!, error.toJobError());
    await this.deps.correlations.release(job.id!, wait);
    this.deps.metrics.asyncWaits.inc({ integration: data.integration, outcome });
    this.deps.metrics.toolErrors.inc({ integration: data.integration, code: error.code });
    log.warn({ reference: wait.reference, code: error.code, checks: wait.checks }, 'async job failed');
    // Into BullMQ's failed set, like any job that failed for good.
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }

  /**
   * Puts the job to sleep until `wakeAt`: its wait state in the payload, the
   * reference in `progress`, then a delayed job. An event claimed while this
   * run was active could not promote it (it was not delayed yet), so look
   * once more after the move: the api's claim happens before its promote.
   */
  private async sleepUntil(run: WaitRun, wait: AsyncWait, wakeAt: number, lastError?: string): Promise<never> {
    const { job, data } = run;
    await job.updateData({ ...data, asyncWait: wait });
    await this.deps.store.setProgress(job.id!, waitProgress(wait, lastError));
    await job.moveToDelayed(Math.max(Date.now(), Math.ceil(wakeAt)), run.token);
    if (wait.webhook && (await this.deps.correlations.claimedEvent(job.id!))) {
      await job.promote().catch(() => undefined);
    }
    throw new DelayedError();
  }
}
