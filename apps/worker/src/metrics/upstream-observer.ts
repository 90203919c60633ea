import { statusClass, type Metrics } from '@broker/shared';
import type { UpstreamCallReport } from '@broker/tools';

/** Turns the tools' per-call reports into broker_upstream_call_duration_seconds (tools know no Prometheus). */
export function upstreamObserver(metrics: Metrics): (report: UpstreamCallReport) => void {
  return ({ integration, status, durationMs }) => {
    metrics.upstreamDuration.observe({ integration, status_class: statusClass(status) }, durationMs / 1000);
  };
}
