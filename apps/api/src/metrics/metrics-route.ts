import type { RequestHandler } from 'express';
import type { Metrics } from '@broker/shared/metrics';

/** `GET /metrics`: Prometheus text for this process (mounted behind the admin token). */
export function metricsRoute(metrics: Metrics): RequestHandler {
  return async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(body);
  };
}
