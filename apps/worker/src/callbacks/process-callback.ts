import { UnrecoverableError, type Job } from 'bullmq';
import { callbackJobDataSchema, callbackJobId, callbackWebhookId, type CallbackJobData } from '@broker/shared/jobs/callback-job';
import { TERMINAL_STATUSES } from '@broker/shared/jobs/schema';
import { splitSecretValues, type SecretsProvider } from '@broker/tools/secrets/provider';
import { toPublicJob, type JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { Lookup } from '@broker/shared/net/ip-policy';
import type { Metrics } from '@broker/shared/metrics';
import { answerExcerpt, excerptReadBytes, secretForms, withExcerpt } from '../triggers/answer-excerpt';
import { classifyDelivery } from './classify';
import { deliver, type DeliveryOutcome } from './deliver';
import { InvalidSigningSecretError, signatureHeader } from './sign';

export interface CallbackDeps {
  callbacks: { secret: string; allowHosts: readonly string[] };
  store: JobStore;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
  /** @defaultValue the system resolver */
  lookup?: Lookup;
  /** Per try. @defaultValue 10000 */
  timeoutMs?: number;
}

/** A try worth repeating; carries the receiver's Retry-After to the worker's backoff strategy. */
export class CallbackRetryError extends Error {
  override readonly name = 'CallbackRetryError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The callback job's data as the deliverer leaves it: how the last failed try
 * ended, for operators reading the failed job in Bull Board (its
 * `failedReason` says the same). Cleared once a retry delivers.
 */
export interface CallbackJobState extends CallbackJobData {
  /** The reason, then the first 500 bytes of the receiver's answer, our secret blanked. */
  lastError?: string;
  /** The receiver's HTTP status on the last failed try, when it answered. */
  lastStatus?: number;
}

/** A failed try's `lastError`: the reason, then the start of the receiver's answer when it sent a body. */
function lastErrorOf(reason: string, outcome: DeliveryOutcome, forms: readonly string[]): string {
  return outcome.kind === 'answered' && outcome.body ? withExcerpt(reason, answerExcerpt(outcome.body, forms)) : reason;
}

/** Logs name the receiver by origin and path: a query string may carry the receiver's own token. */
function describeTarget(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Delivers one completion callback (docs/callbacks.md): the public job object,
 * POSTed to the job's `callbackUrl` with Standard Webhooks headers. The body
 * is read from the job record at each try (a finished record never changes,
 * so every try sends the same bytes) and `webhook-id` is derived from the job
 * and sent again as `Idempotency-Key`, so the receiver can tell a retry from a
 * new message (docs/callbacks.md). A try that fails records its `lastError` on the
 * callback job (see CallbackJobState).
 */
export function createCallbackProcessor(deps: CallbackDeps) {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  return async function deliverCallback(job: Job<CallbackJobData>): Promise<{ status: number } | { skipped: string }> {
    const { jobId } = callbackJobDataSchema.parse(job.data);
    const attempt = job.attemptsMade + 1;
    const lastTry = attempt >= (job.opts.attempts ?? 1);
    const record = await deps.store.get(jobId);
    if (!record) {
      deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
      throw new UnrecoverableError('the job record no longer exists');
    }
    if (!record.callbackUrl) return { skipped: 'the job has no callbackUrl' };
    // The delivery of a run the agent has since retried: that run's end is superseded, the new run has its own.
    if (job.id !== undefined && job.id !== callbackJobId(jobId, record.retries ?? 0)) return { skipped: 'the job was retried since; a later run reports its own end' };
    if (!TERMINAL_STATUSES.has(record.status)) {
      deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
      throw new UnrecoverableError(`the job is ${record.status}, not finished`);
    }
    // A job the agent retried finishes again: its callback is a new delivery, with an id of its own.
    const webhookId = callbackWebhookId(jobId, record.retries ?? 0);
    const log = deps.logger.child({ jobId, webhookId, attempt });
    const target = describeTarget(record.callbackUrl);

    /** Written before the try's error is thrown, so the failed job shows it too; BullMQ's failedReason is that error's message. */
    const recordFailure = async (lastError: string, lastStatus?: number): Promise<void> => {
      const state: CallbackJobState = { jobId, lastError, ...(lastStatus !== undefined ? { lastStatus } : {}) };
      // Bookkeeping only: a Redis blip here must not turn a final answer into a retry.
      await job.updateData(state).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'callback lastError not recorded'));
    };
    const retryOrFail = async (reason: string, retryAfterMs?: number, lastStatus?: number): Promise<never> => {
      await recordFailure(reason, lastStatus);
      deps.metrics.callbackDeliveries.inc({ outcome: lastTry ? 'failed' : 'retried' });
      log.warn({ target, reason, lastTry }, lastTry ? 'callback not delivered; giving up' : 'callback not delivered; will retry');
      throw new CallbackRetryError(reason, retryAfterMs);
    };

    const secret = await deps.secrets.get(deps.callbacks.secret);
    if (!secret) {
      log.error({ secretName: deps.callbacks.secret }, 'callbacks.secret is not set; cannot sign the callback');
      return retryOrFail(`secret "${deps.callbacks.secret}" is not set`);
    }

    const forms = secretForms(splitSecretValues(secret));
    const body = JSON.stringify(toPublicJob(record));
    const timestamp = new Date();
    let signature: string;
    try {
      signature = signatureHeader(secret, webhookId, timestamp, body);
    } catch (err) {
      if (!(err instanceof InvalidSigningSecretError)) throw err;
      log.error({ secretName: deps.callbacks.secret }, `callbacks.secret ${err.message}; cannot sign the callback`);
      return retryOrFail(`secret "${deps.callbacks.secret}" ${err.message}`);
    }
    const outcome = await deliver({
      url: record.callbackUrl,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'agent-request-broker',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
        'idempotency-key': webhookId,
      },
      allowHosts: deps.callbacks.allowHosts,
      timeoutMs,
      keepAnswerBytes: excerptReadBytes(forms),
      ...(deps.lookup ? { lookup: deps.lookup } : {}),
    });

    const verdict = classifyDelivery(outcome);
    const status = outcome.kind === 'answered' ? outcome.status : undefined;
    switch (verdict.action) {
      case 'delivered':
        // A retry that delivers leaves no stale failure behind.
        // Bookkeeping only: a delivered callback must not fail (and be delivered again) over it.
        if ((job.data as CallbackJobState).lastError !== undefined) {
          await job.updateData({ jobId }).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'callback lastError not cleared'));
        }
        deps.metrics.callbackDeliveries.inc({ outcome: 'delivered' });
        log.info({ target, status: verdict.status }, 'callback delivered');
        return { status: verdict.status };
      case 'retry':
        return retryOrFail(lastErrorOf(verdict.reason, outcome, forms), verdict.retryAfterMs, status);
      case 'stop': {
        // A 4xx other than 408/429 (and a 3xx, a refused URL) is final: no retry (docs/callbacks.md).
        const lastError = lastErrorOf(verdict.reason, outcome, forms);
        await recordFailure(lastError, status);
        deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
        log.warn({ target, reason: lastError }, 'callback not delivered; not retrying');
        throw new UnrecoverableError(lastError);
      }
    }
  };
}
