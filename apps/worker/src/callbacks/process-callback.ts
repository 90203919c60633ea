import { UnrecoverableError, type Job } from 'bullmq';
import {
  callbackJobDataSchema,
  callbackWebhookId,
  TERMINAL_STATUSES,
  toPublicJob,
  type CallbackJobData,
  type JobStore,
  type Logger,
  type Lookup,
  type Metrics,
  type SecretsProvider,
} from '@broker/shared';
import { classifyDelivery } from './classify';
import { deliver } from './deliver';
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
 * Delivers one completion callback (CONTRACT §3): the public job object,
 * POSTed to the job's `callbackUrl` with Standard Webhooks headers. The body
 * is read from the job record at each try (a finished record never changes,
 * so every try sends the same bytes) and `webhook-id` is derived from the job,
 * so the receiver can tell a retry from a new message.
 */
export function createCallbackProcessor(deps: CallbackDeps) {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  return async function deliverCallback(job: Job<CallbackJobData>): Promise<{ status: number } | { skipped: string }> {
    const { jobId } = callbackJobDataSchema.parse(job.data);
    const attempt = job.attemptsMade + 1;
    const lastTry = attempt >= (job.opts.attempts ?? 1);
    const webhookId = callbackWebhookId(jobId);
    const log = deps.logger.child({ jobId, webhookId, attempt });

    const record = await deps.store.get(jobId);
    if (!record) {
      deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
      throw new UnrecoverableError('the job record no longer exists');
    }
    if (!record.callbackUrl) return { skipped: 'the job has no callbackUrl' };
    if (!TERMINAL_STATUSES.has(record.status)) {
      deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
      throw new UnrecoverableError(`the job is ${record.status}, not finished`);
    }
    const target = describeTarget(record.callbackUrl);

    const retryOrFail = (reason: string, retryAfterMs?: number): never => {
      deps.metrics.callbackDeliveries.inc({ outcome: lastTry ? 'failed' : 'retried' });
      log.warn({ target, reason, lastTry }, lastTry ? 'callback not delivered; giving up' : 'callback not delivered; will retry');
      throw new CallbackRetryError(reason, retryAfterMs);
    };

    const secret = await deps.secrets.get(deps.callbacks.secret);
    if (!secret) {
      log.error({ secretName: deps.callbacks.secret }, 'callbacks.secret is not set; cannot sign the callback');
      return retryOrFail(`secret "${deps.callbacks.secret}" is not set`);
    }

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
      },
      allowHosts: deps.callbacks.allowHosts,
      timeoutMs,
      ...(deps.lookup ? { lookup: deps.lookup } : {}),
    });

    const verdict = classifyDelivery(outcome);
    switch (verdict.action) {
      case 'delivered':
        deps.metrics.callbackDeliveries.inc({ outcome: 'delivered' });
        log.info({ target, status: verdict.status }, 'callback delivered');
        return { status: verdict.status };
      case 'retry':
        return retryOrFail(verdict.reason, verdict.retryAfterMs);
      case 'stop':
        deps.metrics.callbackDeliveries.inc({ outcome: 'failed' });
        log.warn({ target, reason: verdict.reason }, 'callback not delivered; not retrying');
        throw new UnrecoverableError(verdict.reason);
    }
  };
}
