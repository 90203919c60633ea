import type { DeprecationSighting } from '@broker/shared/integrations/deprecation';
import type { DeprecationStore } from '@broker/redis/integrations/deprecation-store';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import type { UpstreamAnswerHeaders } from '@broker/tools';
import type { Alerter } from './alerter';
import { readDeprecationHeaders, reportedApiVersion } from './deprecation-headers';

/** The same notice is written again at most this often per process (every answer of a deprecated API carries it). */
const REWRITE_MS = 60_000;

/**
 * Watches upstream answers for deprecation and sunset notices, records them
 * per integration and API version (shown by `GET /v1/integrations`), sets
 * `broker_api_deprecated` / `broker_api_sunset_timestamp_seconds`, and raises
 * one `api_deprecation` alert per integration and version, ever.
 */
export class DeprecationWatch {
  private readonly written = new Map<string, { at: number; fingerprint: string }>();

  constructor(
    private readonly store: DeprecationStore,
    private readonly alerter: Alerter,
    private readonly metrics: Metrics,
  ) {}

  /** The `onResponse` hook for one try's calls. Never throws. */
  observer(integration: string, tool: string, apiVersion: string | null, log: Logger): (answer: UpstreamAnswerHeaders) => void {
    return (answer) => {
      try {
        const seen = readDeprecationHeaders(answer.headers);
        if (!seen) return;
        const version = apiVersion ?? reportedApiVersion(answer.headers) ?? 'unversioned';
        this.note(integration, { ...seen, apiVersion: version, tool }, log);
      } catch (err) {
        log.warn({ err: (err as Error).message, integration }, 'deprecation headers not understood');
      }
    };
  }

  /** Records a sighting (throttled per process) and raises the once-per-version alert. */
  note(integration: string, sighting: DeprecationSighting, log: Logger): void {
    const labels = { integration, api_version: sighting.apiVersion };
    this.metrics.apiDeprecated.set(labels, 1);
    if (sighting.sunsetAt) this.metrics.apiSunset.set(labels, Math.floor(Date.parse(sighting.sunsetAt) / 1000));

    const key = `${integration}\n${sighting.apiVersion}`;
    const fingerprint = JSON.stringify([sighting.deprecatedAt, sighting.sunsetAt, sighting.link, sighting.notice, sighting.signals]);
    const last = this.written.get(key);
    const now = Date.now();
    if (last && last.fingerprint === fingerprint && now - last.at < REWRITE_MS) return;
    this.written.set(key, { at: now, fingerprint });

    void this.store
      .record(integration, sighting)
      .then((first) => {
        if (first) log.warn({ integration, apiVersion: sighting.apiVersion, sunsetAt: sighting.sunsetAt, signals: sighting.signals }, 'upstream API version deprecated');
        const when = sighting.sunsetAt ? `; it stops working at ${sighting.sunsetAt}` : '';
        return this.alerter.raiseOnce({
          kind: 'api_deprecation',
          key: `${integration}/${sighting.apiVersion}`,
          severity: sighting.sunsetAt ? 'critical' : 'warning',
          summary: `"${integration}" says API version ${sighting.apiVersion} is deprecated${when}`,
          details: { integration, ...sighting },
        });
      })
      .catch((err: unknown) => {
        // Forget the write so the next answer tries again.
        this.written.delete(key);
        log.warn({ err: (err as Error).message, integration }, 'deprecation not recorded');
      });
  }
}

/**
 * The `onResponse` of a try: each given observer in turn (the adaptive rate
 * limit, the deprecation watch), as one hook; nothing when there are none.
 */
export function responseObservers(...observers: (((answer: UpstreamAnswerHeaders) => void) | undefined)[]): { onResponse?: (answer: UpstreamAnswerHeaders) => void } {
  const present = observers.filter((o): o is (answer: UpstreamAnswerHeaders) => void => o !== undefined);
  if (present.length === 0) return {};
  if (present.length === 1) return { onResponse: present[0]! };
  return { onResponse: (answer) => present.forEach((observe) => observe(answer)) };
}
