import { statusClass, type Metrics } from '@broker/shared/metrics';
import type { UpstreamCallReport } from '@broker/tools';

/**
 * Turns the tools' per-call reports into broker_upstream_call_duration_seconds
 * (tools know no Prometheus), and hands each report on to `audit` (the job's
 * `call` entries) when given.
 */
export function upstreamObserver(metrics: Metrics, audit?: (report: UpstreamCallReport) => void): (report: UpstreamCallReport) => void {
  return (report) => {
    metrics.upstreamDuration.observe({ integration: report.integration, status_class: statusClass(report.status) }, report.durationMs / 1000);
    audit?.(report);
  };
}
