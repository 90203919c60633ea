import type { Request, RequestHandler, Response } from 'express';
import type { Metrics } from '@broker/shared/metrics';

/** Label of requests no route matched (scanners, typos): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route template that answered (`/v1/jobs/:id`), never the raw URL: job
 * ids in a label would make one series per job. Mounted sub-apps (Bull Board)
 * set `res.locals.metricsRoute` to name themselves.
 */
export function routeLabel(req: Request, res: Response): string {
  const named: unknown = res.locals.metricsRoute;
  if (typeof named === 'string') return named;
  const path: unknown = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : UNMATCHED_ROUTE;
}

/**
 * broker_http_requests_total and broker_http_request_duration_seconds by
 * route template, method and status. A client that left before the answer
 * (a long-poll given up) is counted with status 499, nginx's "client closed
 * request", so it does not pass for a 200.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const labels = {
        route: routeLabel(req, res),
        method: req.method,
        status: res.writableFinished ? String(res.statusCode) : '499',
      };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
