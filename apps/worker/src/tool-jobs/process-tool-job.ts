import { randomBytes } from 'node:crypto';
import { DelayedError, RateLimitError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { toolJobDataSchema, type BrokerConfig, type JobStore, type Logger, type Metrics, type ToolJobData } from '@broker/shared';
import { asToolError, isPending, ToolError, type IntegrationClient, type ToolRegistry } from '@broker/tools';
import { responseObservers, type DeprecationWatch } from '../alerts/deprecation-watch';
import type { Escalations } from '../alerts/escalations';
import type { AsyncWaits } from '../async-tools/async-waits';
import type { AdaptiveLimits } from '../limits/adaptive-limits';
import type { CallGate } from '../limits/call-gate';
import type { CircuitBreaker } from '../limits/circuit-breaker';
import { upstreamObserver } from '../metrics/upstream-observer';
import { gateFurtherCalls } from './gated-http';
import { decideRetry } from './retry-policy';

/** How long after it was queued a job with no record is looked at again rather than skipped. @defaultValue 5000 */
export const RECORD_GRACE_MS = 5000;

/** A job answered 429 this many times ends as RATE_LIMITED. @defaultValue 10 */
export const MAX_RATE_LIMIT_DEFERRALS = 10;

export interface ToolJobDeps {
  config: BrokerConfig;
  registry: ToolRegistry;
  clients: ReadonlyMap<string, IntegrationClient>;
  store: JobStore;
  gate: CallGate;
  breaker: CircuitBreaker;
  adaptive: AdaptiveLimits;
  queues: ReadonlyMap<string, Queue>;
  logger: Logger;
  metrics: Metrics;
  /** Queues the callback of a job found already finished (its worker died before it could); idempotent. */
  resendCallback?: (jobId: string) => Promise<void>;
  /** Async tools: the wait after a `pending` first answer (absent: a pending answer fails the job UNKNOWN). */
  asyncWaits?: AsyncWaits;
  /** Escalates what retries cannot fix (schema drift here). */
  escalations?: Escalations;
  /** Records upstream deprecation and sunset notices. */
  deprecations?: DeprecationWatch;
}

/** Carries the planned delay to the worker's backoff strategy, so the record's retryAt is the real one. */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    readonly toolError: ToolError,
    readonly delayMs: number,
  ) {
    super(toolError.message, { cause: toolError });
  }
}

function fieldPaths(errors: { pointer: string; message: string }[]): string {
  return errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ');
}

/**
 * Runs one try of a tool job. The job record is the truth agents read; BullMQ
 * moves the job between wait, delayed, active and finished:
 * - cancelled or finished already (a stalled re-run): nothing is called;
 * - the integration is paused or over its sliding window: the job goes back
 *   to wait and the queue is rate-limited for every worker (no attempt spent);
 * - its connection is over its own window: only this job is delayed;
 * - otherwise one upstream call, then success, a retry with backoff, a
 *   deferral (429), or a final failure.
 */
export function createToolJobProcessor(deps: ToolJobDeps) {
  const observeUpstream = upstreamObserver(deps.metrics);
  return async function processToolJob(job: Job<ToolJobData>, token?: string): Promise<{ status: string }> {
    const id = job.id!;
    const data = toolJobDataSchema.parse(job.data);
    const integration = deps.config.integrations[data.integration];
    const tool = deps.registry.get(data.tool);
    const client = deps.clients.get(data.integration);
    const log = deps.logger.child({ jobId: id, requestId: data.requestId, tool: data.tool, integration: data.integration });

    if (!integration || !tool || !client) {
      await deps.store.fail(id, new ToolError('UNKNOWN', { message: `tool "${data.tool}" is no longer configured` }).toJobError());
      throw new UnrecoverableError(`tool ${data.tool} is not configured`);
    }
    const input = tool.validateInput(data.input);
    if (!input.ok) {
      await deps.store.fail(id, new ToolError('VALIDATION_ERROR', { message: `input: ${fieldPaths(input.errors)}` }).toJobError());
      throw new UnrecoverableError('input no longer valid');
    }
    // A job of an async tool that already made its first call: a wake-up, not a try (async-tools/async-waits.ts).
    if (data.asyncWait && deps.asyncWaits) return deps.asyncWaits.resume({ job, token, data, tool, input: input.value, log });

    // Claim, breaker and call gate are independent checks: asked at once they
    // cost one round trip, and the upstream call follows its admission with no
    // Redis call in between (the gate times a call when it admits it). What a
    // check took is given back when another refuses.
    const tryToken = `${id}:${randomBytes(4).toString('hex')}`;
    const [claim, breaker, verdict] = await Promise.all([
      deps.store.claimTry(id),
      deps.breaker.admit(data.integration, integration, tryToken, log),
      deps.gate.acquire(data.integration, integration, data.connection, tryToken),
    ]);
    const admitted = claim.status === 'running' && breaker.admitted && verdict.admitted;
    if (!admitted) {
      await Promise.all([
        breaker.admitted ? breaker.release() : undefined,
        verdict.admitted ? deps.gate.release(data.integration, data.connection, tryToken) : undefined,
        claim.status === 'running' ? deps.store.incrementAttempts(id, -1) : undefined,
      ]);
    }
    if (claim.status === 'missing' && Date.now() - job.timestamp < RECORD_GRACE_MS) {
      // The api sends a job's record and the job together; should they ever
      // arrive out of order, the record follows within moments: look again.
      await job.moveToDelayed(Date.now() + 100, token);
      throw new DelayedError();
    }
    if (claim.status !== 'running') {
      log.info({ status: claim.status }, 'job not run: already %s', claim.status);
      if (claim.status !== 'missing') await deps.resendCallback?.(id);
      return { status: claim.status };
    }
    // The breaker gates new tries only: while it is open the job waits without spending an attempt.
    if (!breaker.admitted) {
      deps.metrics.deferrals.inc({ integration: data.integration, scope: 'integration', reason: 'circuit_open' });
      await deps.store.markWaiting(id, 'deferred', breaker.error.toJobError(new Date(Date.now() + breaker.waitMs)));
      await deps.queues.get(data.integration)!.rateLimit(breaker.waitMs);
      throw new RateLimitError();
    }
    if (!verdict.admitted) {
      deps.metrics.deferrals.inc({ integration: data.integration, scope: verdict.scope, reason: verdict.reason });
      await deps.store.markWaiting(id, 'deferred');
      if (verdict.scope === 'connection') {
        await job.moveToDelayed(Date.now() + verdict.waitMs, token);
        throw new DelayedError();
      }
      await deps.queues.get(data.integration)!.rateLimit(verdict.waitMs);
      throw new RateLimitError();
    }

    const attempt = claim.attempts;
    const adaptive = deps.adaptive.observer(data.integration, integration, log);
    const controller = new AbortController();
    try {
      const output = await tool.run(input.value, {
        jobId: id,
        attempt,
        connection: data.connection,
        idempotencyKey: id,
        logger: log,
        signal: controller.signal,
        // Calls after the first (pages of a listing) are admitted by the gate too.
        http: gateFurtherCalls(
          client.forCall({
            tool: tool.name,
            jobId: id,
            attempt,
            connection: data.connection,
            write: tool.write,
            // The submitting request's id ties upstream logs to the agent's request; `attempt` is in our log lines.
            requestId: data.requestId ?? `${id}-${attempt}`,
            onCall: observeUpstream,
            signal: controller.signal,
            ...responseObservers(adaptive, deps.deprecations?.observer(data.integration, tool.name, tool.apiVersion, log)),
            // Derived from the job, so every attempt and a re-run after a crash send the same key.
            ...(tool.idempotent ? { idempotencyKey: id } : {}),
          }),
          (call) => deps.gate.acquire(data.integration, integration, data.connection, `${tryToken}:${call}`),
          controller.signal,
          undefined,
          (call) => {
            // Fire and forget: it lands long before the window could admit this slot again.
            deps.gate
              .settled(data.integration, integration, data.connection, call === 0 ? tryToken : `${tryToken}:${call}`)
              .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'rate window not re-timed'));
          },
        ),
        reportProgress: async (progress) => {
          await deps.store.setProgress(id, progress);
        },
        // A budget reported in a body (GraphQL query cost) pauses the integration like a Retry-After.
        pauseIntegration: async (ms, reason) => {
          await deps.gate.pause(data.integration, ms, reason);
          deps.metrics.pauses.inc({ integration: data.integration });
        },
      });
      await breaker.settle();
      if (isPending(output) && deps.asyncWaits) return await deps.asyncWaits.begin({ job, token, data, tool, input: input.value, log }, output);
      const checked = tool.validateOutput(output);
      if (!checked.ok) {
        deps.escalations?.schemaMismatch({ integration: data.integration, tool: tool.name, errors: checked.errors, sample: output, jobId: id });
        throw new ToolError('SCHEMA_MISMATCH', {
          message: `upstream answer does not match the output schema: ${fieldPaths(checked.errors)}`,
        });
      }
      await deps.store.succeed(id, checked.value);
      log.info({ attempt }, 'job succeeded');
      return { status: 'succeeded' };
    } catch (err) {
      // The async wait has put the job to sleep, or finished it for good, itself.
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      const error = asToolError(err);
      await breaker.settle(error);
      deps.metrics.toolErrors.inc({ integration: data.integration, code: error.code });
      const deferrals = data.rateLimitDeferrals ?? 0;
      const decision = decideRetry(
        error,
        // BullMQ decides whether a thrown error is retried, so decide with its count.
        { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1, rateLimitDeferrals: deferrals, maxRateLimitDeferrals: MAX_RATE_LIMIT_DEFERRALS },
        integration.retry,
      );
      if (error.retryAfterMs !== undefined || error.upstreamStatus === 429) {
        const pauseMs = error.retryAfterMs ?? (decision.action === 'fail' ? 0 : decision.waitMs);
        if (pauseMs > 0) {
          await deps.gate.pause(data.integration, pauseMs, `${error.upstreamStatus ?? ''}`);
          deps.metrics.pauses.inc({ integration: data.integration });
          await deps.queues.get(data.integration)!.rateLimit(pauseMs);
        }
      }
      log.warn({ attempt, code: error.code, upstreamStatus: error.upstreamStatus, decision: decision.action, reason: decision.reason }, 'try failed');
      switch (decision.action) {
        case 'defer': {
          // The throttled call does not count as an attempt.
          await deps.store.incrementAttempts(id, -1);
          deps.metrics.deferrals.inc({ integration: data.integration, scope: 'integration', reason: 'upstream_429' });
          await job.updateData({ ...data, rateLimitDeferrals: deferrals + 1 });
          await deps.store.markWaiting(id, 'deferred', error.toJobError(new Date(Date.now() + decision.waitMs)));
          throw new RateLimitError();
        }
        case 'retry': {
          deps.metrics.retries.inc({ integration: data.integration });
          await deps.store.markWaiting(id, 'queued', error.toJobError(new Date(Date.now() + decision.waitMs)));
          throw new RetryLaterError(error, decision.waitMs);
        }
        case 'fail': {
          await deps.store.fail(id, error.toJobError());
          throw new UnrecoverableError(`${error.code}: ${error.message}`);
        }
      }
    }
  };
}
