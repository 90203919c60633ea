import type { Readable } from 'node:stream';
import { UnrecoverableError, type Job } from 'bullmq';
import { MissingSecretError, splitSecretValues, type SecretsProvider } from '@broker/tools/secrets/provider';
import { triggerJobDataSchema, type TriggerJobData } from '@broker/shared/webhooks/schema';
import type { BrokerConfig, TriggerDeliveryConfig } from '@broker/shared/config/schema';
import type { EventStore, StoredEvent } from '@broker/redis/webhooks/event-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import { createHttpClient, parseRetryAfter } from '@broker/tools';
import { discardAnswer } from '../http/discard-answer';
import { answerExcerpt, excerptReadBytes, readHead, secretForms, withExcerpt } from './answer-excerpt';
import { triggerBackoffMs } from './backoff';
import { DeliveryRetryError } from './delivery-retry-error';
import { isFinalAnswer } from './final-answer';
import { openclawBody } from './openclaw-format';
import { standardWebhookHeaders } from './sign';
import { standardBody } from './standard-format';

export interface TriggerDeliveryDeps {
  config: BrokerConfig;
  delivery: TriggerDeliveryConfig;
  store: EventStore;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
  /** Told when a delivery gives up (tries spent, or a final 4xx): alerting. Must not throw. */
  onExhausted?: (delivery: { trigger: string; eventId: string; deliveryId: string; attempts: number; lastError: string; lastStatus?: number }) => void;
}

/**
 * One client for every trigger delivery. No redirects (the factory's default):
 * a redirect would resend a signed body somewhere else, so it counts as a
 * failed try. A 2xx answer's body is never read; a failing one's first
 * 500 bytes go to `lastError`. Either is drained up to 64 KiB.
 */
const http = createHttpClient({ maxBytes: 64 * 1024 });

/**
 * How one try ended. `error` is what `lastError` records: the reason, then up
 * to 500 bytes of the receiver's answer, our secrets blanked.
 */
type TryResult = { ok: true; status: number } | { ok: false; status?: number; error: string; retryAfterMs?: number };

async function secretValues(secrets: SecretsProvider, name: string): Promise<string[]> {
  const values = splitSecretValues(await secrets.get(name));
  if (values.length === 0) throw new MissingSecretError(name);
  return values;
}

/**
 * The request of one try: signed anew each time (fresh timestamp), same
 * `webhook-id` and the same `Idempotency-Key` (the delivery id), so a receiver
 * that dedupes on that header, as OpenClaw does, starts one run per delivery
 * however often it is retried (docs/webhooks.md#trigger-delivery). A replay is a new delivery, hence
 * a new key. Also the forms of every secret the receiver holds or is sent,
 * blanked from what its answer quotes back.
 */
async function buildRequest(
  deps: TriggerDeliveryDeps,
  event: StoredEvent,
  data: TriggerJobData,
): Promise<{ body: string; headers: Record<string, string>; secretForms: string[] }> {
  const { delivery, config, secrets } = deps;
  const openclaw = delivery.format === 'openclaw' ? delivery.openclaw : undefined;
  const sourceType = config.webhooks[event.source]?.type ?? 'standard';
  const body = JSON.stringify(openclaw ? openclawBody(event, data.trigger, sourceType, openclaw) : standardBody(event, data.trigger));
  const signing = await secretValues(secrets, delivery.secret);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'agent-request-broker',
    ...standardWebhookHeaders(signing, data.deliveryId, new Date(), body),
    'idempotency-key': data.deliveryId,
  };
  if (data.replay) headers['x-broker-replay'] = 'true';
  const tokens = openclaw ? await secretValues(secrets, openclaw.token) : [];
  if (tokens[0] !== undefined) headers.authorization = `Bearer ${tokens[0]}`;
  return { body, headers, secretForms: secretForms([...signing, ...tokens]) };
}

async function tryOnce(deps: TriggerDeliveryDeps, event: StoredEvent, data: TriggerJobData): Promise<TryResult> {
  const { delivery } = deps;
  let request: Awaited<ReturnType<typeof buildRequest>>;
  try {
    request = await buildRequest(deps, event, data);
  } catch (err) {
    // A missing or malformed signing secret: an operator can fix it while we retry.
    return { ok: false, error: `cannot sign the delivery: ${(err as Error).message}` };
  }
  const signal = AbortSignal.timeout(delivery.timeoutMs);
  try {
    // Bytes, not a string: axios would re-serialize a JSON string, and the signature covers these exact bytes.
    const res = await http.post<Readable>(delivery.url, Buffer.from(request.body), { headers: request.headers, signal, responseType: 'stream' });
    if (res.status >= 200 && res.status < 300) {
      discardAnswer(res.data);
      return { ok: true, status: res.status };
    }
    const header = res.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(typeof header === 'string' ? header : undefined);
    // A receiver's error message is what an operator needs to fix it (a bad token, an unknown agent): keep its start.
    const head = await readHead(res.data, excerptReadBytes(request.secretForms));
    const error = withExcerpt(`receiver answered ${res.status}`, answerExcerpt(head, request.secretForms));
    return { ok: false, status: res.status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  } catch (err) {
    // The socket error's code (ECONNREFUSED, ENOTFOUND) is what an operator needs; never the request, which holds the signature.
    const error = signal.aborted ? `no answer within ${delivery.timeoutMs} ms` : `request failed: ${(err as { code?: string }).code ?? (err as Error).message}`;
    return { ok: false, error };
  }
}

/**
 * One try of a trigger delivery. Every try of a delivery (a retry, or a
 * re-run after a worker crash) sends the same `webhook-id` and
 * `Idempotency-Key`. 2xx: delivered. A 4xx other than 408/429 (410 Gone
 * included) is final: no retry (see isFinalAnswer). Anything else (5xx, 408,
 * 429, redirects, timeouts, network errors): retried with backoff, never
 * sooner than the receiver's Retry-After, until the attempts are spent. The
 * event record shows each step with the last answer's first 500 bytes in
 * `lastError`, and a job that failed for good stays in BullMQ's failed set.
 */
export function createTriggerProcessor(deps: TriggerDeliveryDeps) {
  const { store, metrics, delivery } = deps;
  return async function deliverTrigger(job: Job<TriggerJobData>): Promise<{ status: number }> {
    const data = triggerJobDataSchema.parse(job.data);
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = deps.logger.child({ deliveryId: data.deliveryId, eventId: data.eventId, trigger: data.trigger });
    const count = (outcome: 'delivered' | 'retried' | 'failed') => metrics.triggerDeliveries.inc({ trigger: data.trigger, outcome });

    const event = await store.get(data.eventId);
    if (!event) {
      count('failed');
      throw new UnrecoverableError('the event is no longer stored (past its retention)');
    }
    // A delivered delivery is never sent again. Its job can run twice: the outbox
    // sweeper re-adds a delivery whose job BullMQ no longer knows, and completed
    // jobs are kept only up to a count, so the job of one delivered long ago may
    // be gone while the outbox still holds its entry. A failed one is sent when
    // an operator retries its job (Bull Board), as docs/webhooks.md says.
    const finished = event.deliveries.find((d) => d.deliveryId === data.deliveryId && d.status === 'delivered');
    if (finished) {
      log.info({ attempt, status: finished.status }, 'trigger delivery already finished; not sent again');
      return { status: finished.lastStatus ?? 0 };
    }
    await store.updateDelivery(data.eventId, data.deliveryId, { status: 'delivering', attempts: attempt, lastAttemptAt: new Date().toISOString() }, ['nextRetryAt']);

    const result = await tryOnce(deps, event, data);
    if (result.ok) {
      await store.updateDelivery(data.eventId, data.deliveryId, { status: 'delivered', deliveredAt: new Date().toISOString(), lastStatus: result.status }, ['lastError']);
      count('delivered');
      log.info({ attempt, status: result.status }, 'trigger delivered');
      return { status: result.status };
    }

    const failure = { lastError: result.error, ...(result.status !== undefined ? { lastStatus: result.status } : {}) };
    const clear = result.status === undefined ? (['lastStatus'] as const) : [];
    const final = isFinalAnswer(result.status);
    if (final || attempt >= maxAttempts) {
      await store.updateDelivery(data.eventId, data.deliveryId, { status: 'failed', ...failure }, [...clear]);
      count('failed');
      log.warn({ attempt, status: result.status, error: result.error }, 'trigger delivery failed for good');
      deps.onExhausted?.({
        trigger: data.trigger,
        eventId: data.eventId,
        deliveryId: data.deliveryId,
        attempts: attempt,
        lastError: result.error,
        ...(result.status !== undefined ? { lastStatus: result.status } : {}),
      });
      const message = final ? `not retried, the answer is final: ${result.error}` : `gave up after attempt ${attempt} of ${maxAttempts}: ${result.error}`;
      throw final ? new UnrecoverableError(message) : new Error(message);
    }

    const delayMs = Math.max(triggerBackoffMs(attempt, delivery.retry), result.retryAfterMs ?? 0);
    await store.updateDelivery(data.eventId, data.deliveryId, { status: 'retrying', nextRetryAt: new Date(Date.now() + delayMs).toISOString(), ...failure }, [...clear]);
    count('retried');
    log.info({ attempt, status: result.status, error: result.error, delayMs }, 'trigger delivery will be retried');
    throw new DeliveryRetryError(result.error, delayMs);
  };
}
