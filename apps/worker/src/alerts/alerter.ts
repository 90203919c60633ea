import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { RedisClient } from '@broker/redis/connection';
import { DEFAULT_ALERTS, type AlertsConfig, type AlertWebhookConfig } from '@broker/shared/config/alerts-schema';
import { LuaScript } from '@broker/redis/lua-script';
import { splitSecretValues, type SecretsProvider } from '@broker/tools/secrets/provider';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { RedisKeys } from '@broker/redis/keys';
import { createHttpClient } from '@broker/tools';
import { discardAnswer } from '../http/discard-answer';
import { standardWebhookHeaders } from '../triggers/sign';
import type { Alert, AlertNotice } from './alert';
import { slackBody, standardBody } from './alert-body';

/*
 * One alert per cause per window, across every worker process: the first
 * occurrence in a window takes the window (`SET NX PX`) and is sent with the
 * number of occurrences since the previous alert; the others only count.
 */

// KEYS: window, count. ARGV: windowMs, countTtlMs. Returns the count to report, or 0 (inside the window).
const TAKE_WINDOW = new LuaScript(`
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('DEL', KEYS[2])
  return n
end
return 0
`);

/**
 * One client for every alert POST. No redirects (the factory's default): a
 * signed alert is not resent elsewhere. Answers are drained up to 64 KiB, never read.
 */
const http = createHttpClient({ maxBytes: 64 * 1024 });

/** Tries of one alert POST, and the wait before the second and third. */
const SEND_DELAYS_MS = [0, 500, 2000];

export interface AlerterDeps {
  redis: RedisClient;
  keys: RedisKeys;
  /** The config's `alerts` section; without it alerts are logged and counted only. */
  config: AlertsConfig | undefined;
  secrets: SecretsProvider;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Raises alerts: each is deduplicated per cause, logged once per window (a
 * `warn` line `alert: …` with its fields), counted in `broker_alerts_total`
 * and `broker_alert_notifications_total`, and POSTed to `alerts.webhook`
 * (Slack JSON, or a Standard-Webhooks-signed body). Never throws: an alert
 * that cannot be sent must not fail the job that raised it.
 */
export class Alerter {
  readonly settings: AlertsConfig;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: AlerterDeps) {
    this.settings = deps.config ?? DEFAULT_ALERTS;
  }

  /** At most one alert per cause per `alerts.windowMs`. */
  raise(alert: Alert): Promise<void> {
    return this.track(async () => {
      this.deps.metrics.alertsRaised.inc({ kind: alert.kind });
      const cause = `${alert.kind}:${alert.key}`;
      const windowMs = this.settings.windowMs;
      const count = await TAKE_WINDOW.run<number>(
        this.deps.redis,
        [this.deps.keys.alertWindow(cause), this.deps.keys.alertCount(cause)],
        [windowMs, Math.max(windowMs * 20, 24 * 3600 * 1000)],
      );
      if (count === 0) {
        this.deps.metrics.alertNotifications.inc({ kind: alert.kind, outcome: 'suppressed' });
        this.deps.logger.debug({ alert: alert.kind, cause }, 'alert suppressed: already sent in this window');
        return;
      }
      await this.notify({ ...alert, id: `alert_${randomUUID().replace(/-/g, '')}`, cause, count, windowMs, at: new Date().toISOString() });
    });
  }

  /** Once ever per cause (an API version's deprecation): a mark without expiry. */
  raiseOnce(alert: Alert): Promise<void> {
    return this.track(async () => {
      this.deps.metrics.alertsRaised.inc({ kind: alert.kind });
      const cause = `${alert.kind}:${alert.key}`;
      const first = await this.deps.redis.set(this.deps.keys.alertOnce(cause), new Date().toISOString(), 'NX');
      if (first !== 'OK') {
        this.deps.metrics.alertNotifications.inc({ kind: alert.kind, outcome: 'suppressed' });
        return;
      }
      await this.notify({ ...alert, id: `alert_${randomUUID().replace(/-/g, '')}`, cause, count: 1, windowMs: 0, at: new Date().toISOString() });
    });
  }

  /** Resolves when every alert raised so far has been sent or given up (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(work: () => Promise<void>): Promise<void> {
    const run = work().catch((err: unknown) => {
      this.deps.logger.error({ err: (err as Error).message }, 'alert not raised');
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async notify(notice: AlertNotice): Promise<void> {
    const { logger, metrics } = this.deps;
    // The log line is the alert of record: it is written whether or not a webhook is configured or answers.
    logger.warn(
      { alert: notice.kind, alertId: notice.id, cause: notice.cause, severity: notice.severity, count: notice.count, details: notice.details },
      'alert: %s',
      notice.summary,
    );
    const hook = this.settings.webhook;
    if (!hook) {
      metrics.alertNotifications.inc({ kind: notice.kind, outcome: 'logged' });
      return;
    }
    const outcome = await this.send(hook, notice);
    metrics.alertNotifications.inc({ kind: notice.kind, outcome });
  }

  private async send(hook: AlertWebhookConfig, notice: AlertNotice): Promise<'sent' | 'failed'> {
    const { secrets, logger } = this.deps;
    let lastError = '';
    let url: string | undefined;
    for (const delay of SEND_DELAYS_MS) {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
      try {
        url = hook.url ?? splitSecretValues(await secrets.get(hook.urlSecret!))[0];
        if (!url) throw new Error(`the secret ${hook.urlSecret} holding the alert URL is not set`);
        const body = JSON.stringify(hook.format === 'slack' ? slackBody(notice) : standardBody(notice));
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'agent-request-broker' };
        if (hook.format === 'standard') {
          const values = splitSecretValues(await secrets.get(hook.secret!));
          if (values.length === 0) throw new Error(`the alert signing secret ${hook.secret} is not set`);
          Object.assign(headers, standardWebhookHeaders(values, notice.id, new Date(notice.at), body));
        }
        // Bytes, not a string: axios would re-serialize a JSON string, and the signature covers these exact bytes.
        const res = await http.post<Readable>(url, Buffer.from(body), { headers, signal: AbortSignal.timeout(hook.timeoutMs), responseType: 'stream' });
        discardAnswer(res.data);
        if (res.status >= 200 && res.status < 300) return 'sent';
        lastError = `receiver answered ${res.status}`;
        // A 4xx other than 408/429 will not change on a retry.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch (err) {
        // Never log the URL: a Slack webhook URL is a credential.
        const e = err as Error & { code?: string };
        lastError = e.code === 'ERR_CANCELED' ? `no answer within ${hook.timeoutMs} ms` : (e.code ?? e.message);
        if (url) lastError = lastError.split(url).join('<alert url>');
      }
    }
    logger.error({ alert: notice.kind, alertId: notice.id, cause: notice.cause, error: lastError }, 'alert could not be delivered');
    return 'failed';
  }
}
