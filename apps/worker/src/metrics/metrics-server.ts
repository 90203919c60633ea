import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { problem as problemBody, PROBLEM_CONTENT_TYPE } from '@broker/shared/errors/problem';
import type { ApiErrorCode } from '@broker/shared/errors/codes';
import type { Logger } from '@broker/shared/logger';
import type { Metrics } from '@broker/shared/metrics';
import { bearerToken } from './admin-token';

export interface MetricsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** @defaultValue all interfaces: Prometheus scrapes from another host */
  host?: string;
  metrics: Metrics;
  isAdmin: (token: string) => Promise<boolean>;
  /** Is the token an agent's key? Then the answer is 403, not 401. @defaultValue none is */
  isAgent?: (token: string) => Promise<boolean>;
  logger: Logger;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

const problem = (code: ApiErrorCode, detail: string): string => JSON.stringify(problemBody(code, detail));

/**
 * The worker's `/metrics` (the worker has no HTTP API otherwise): Prometheus
 * text, behind the admin token as a Bearer token, like the api's.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, isAdmin, logger } = options;
  const isAgent = options.isAgent ?? (async () => false);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE }).end(problem('NOT_FOUND', 'Only /metrics is served here.'));
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': PROBLEM_CONTENT_TYPE });
        res.end(problem('METHOD_NOT_ALLOWED', `${req.method} is not supported here.`));
        return;
      }
      const token = bearerToken(req.headers.authorization);
      if (!token || !(await isAdmin(token))) {
        if (token && (await isAgent(token))) {
          res.writeHead(403, { 'content-type': PROBLEM_CONTENT_TYPE });
          res.end(problem('FORBIDDEN', 'Metrics need the admin token; an agent key cannot read them.'));
          return;
        }
        const why = token ? 'The token is not the admin token, which /metrics needs.' : '/metrics needs the admin token.';
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': PROBLEM_CONTENT_TYPE });
        res.end(problem('UNAUTHENTICATED', `${why} Send it as "Authorization: Bearer <token>".`));
        return;
      }
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((err: unknown) => {
      logger.error({ err }, 'metrics scrape failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': PROBLEM_CONTENT_TYPE });
      res.end(problem('INTERNAL', 'Could not collect the metrics.'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
