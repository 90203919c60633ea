import { randomBytes } from 'node:crypto';
import { DelayedError, RateLimitError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { toolJobDataSchema, type BrokerConfig, type JobStore, type Logger, type Metrics, type ToolJobData } from '@broker/shared';
import { asToolError, ToolError, type IntegrationClient, type ToolRegistry } from '@broker/tools';
import type { CallGate } from '../limits/call-gate';
import { decideRetry } from './retry-policy';

/** A job answered 429 this many times ends as RATE_LIMITED. @defaultValue 10 */
export const MAX_RATE_LIMIT_DEFERRALS = 10;

export interface ToolJobDeps {
  config: BrokerConfig;
  registry: ToolRegistry;
  clients: ReadonlyMap<string, IntegrationClient>;
  store: JobStore;
  gate: CallGate;
  queues: ReadonlyMap<string, Queue>;
  logger: Logger;
  metrics: Metrics;
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
  return async function processToolJob(job: Job<ToolJobData>, token?: string): Promise<{ status: string }> {
    const id = job.id!;
    const data = toolJobDataSchema.parse(job.data);
    const integration = deps.config.integrations[data.integration];
    const tool = deps.registry.get(data.tool);
    const client = deps.clients.get(data.integration);
    const log = deps.logger.child({ jobId: id, tool: data.tool, integration: data.integration });

    const claimed = await deps.store.claim(id);
    if (claimed !== 'running') {
      log.info({ status: claimed }, 'job not run: already %s', claimed);
      return { status: claimed };
    }
    if (!integration || !tool || !client) {
      await deps.store.fail(id, new ToolError('UNKNOWN', { message: `tool "${data.tool}" is no longer configured` }).toJobError());
      throw new UnrecoverableError(`tool ${data.tool} is not configured`);
    }
    const input = tool.validateInput(data.input);
    if (!input.ok) {
      await deps.store.fail(id, new ToolError('VALIDATION_ERROR', { message: `input: ${fieldPaths(input.errors)}` }).toJobError());
      throw new UnrecoverableError('input no longer valid');
    }

    const verdict = await deps.gate.acquire(data.integration, integration, data.connection, `${id}:${randomBytes(4).toString('hex')}`);
    if (!verdict.admitted) {
      await deps.store.markWaiting(id, 'deferred');
      if (verdict.scope === 'connection') {
        await job.moveToDelayed(Date.now() + verdict.waitMs, token);
        throw new DelayedError();
      }
      await deps.queues.get(data.integration)!.rateLimit(verdict.waitMs);
      throw new RateLimitError();
    }

    const attempt = await deps.store.incrementAttempts(id);
    const controller = new AbortController();
    try {
      const output = await tool.run(input.value, {
        jobId: id,
        attempt,
        connection: data.connection,
        idempotencyKey: id,
        logger: log,
        signal: controller.signal,
        http: client.forCall({
          tool: tool.name,
          jobId: id,
          attempt,
          connection: data.connection,
          write: tool.write,
          requestId: `${id}-${attempt}`,
          signal: controller.signal,
          // Derived from the job, so every attempt and a re-run after a crash send the same key.
          ...(tool.idempotent ? { idempotencyKey: id } : {}),
        }),
        reportProgress: async (progress) => {
          await deps.store.setProgress(id, progress);
        },
      });
      const checked = tool.validateOutput(output);
      if (!checked.ok) {
        throw new ToolError('SCHEMA_MISMATCH', {
          message: `upstream answer does not match the output schema: ${fieldPaths(checked.errors)}`,
        });
      }
      await deps.store.succeed(id, checked.value);
      log.info({ attempt }, 'job succeeded');
      return { status: 'succeeded' };
    } catch (err) {
      const error = asToolError(err);
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
          await deps.queues.get(data.integration)!.rateLimit(pauseMs);
        }
      }
      log.warn({ attempt, code: error.code, upstreamStatus: error.upstreamStatus, decision: decision.action, reason: decision.reason }, 'try failed');
      switch (decision.action) {
        case 'defer': {
          // The throttled call does not count as an attempt.
          await deps.store.incrementAttempts(id, -1);
          await job.updateData({ ...data, rateLimitDeferrals: deferrals + 1 });
          await deps.store.markWaiting(id, 'deferred', error.toJobError(new Date(Date.now() + decision.waitMs)));
          throw new RateLimitError();
        }
        case 'retry': {
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
