import type { RequestHandler } from 'express';

/** `/healthz`: the process is up and serving. Never touches Redis, so an orchestrator does not restart us for Redis's outage. */
export function healthz(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}
