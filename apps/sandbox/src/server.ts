import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isAuthorized } from './auth';
import { HttpError } from './http-error';
import { sendJson } from './http';
import { Inbox, type DeliveryKind, type ReceivedDelivery } from './inbox';
import { OrderStore } from './order-store';
import { routes, type Route } from './routes';

export interface SandboxServerOptions {
  /**
   * Bearer token every request except `GET /healthz` must present. A function is
   * called on each request, so a caller can rotate the key without a restart; when it
   * returns `undefined` every authenticated request is refused.
   */
  apiKey: string | (() => string | undefined);
  /**
   * Largest request body accepted; larger ones get 413.
   * @defaultValue 1048576 (1 MiB, the broker's own limit)
   */
  maxBodyBytes?: number;
  /**
   * Receives errors that are not the client's fault (they become a 500).
   * @defaultValue console.error
   */
  onError?: (error: unknown) => void;
  /**
   * The secret values the broker signs triggers (`triggerDelivery.secret`) and
   * callbacks (`callbacks.secret`) with, so `GET /received` can say whether
   * each signature verified; read on each delivery. @defaultValue none: not checked
   */
  receiverSecrets?: Partial<Record<DeliveryKind, string | (() => string | undefined)>>;
  /** Called with each trigger or callback received. @defaultValue nothing */
  onReceived?: (delivery: ReceivedDelivery) => void;
  /**
   * Deliveries `GET /received` keeps, newest first.
   * @defaultValue 100
   */
  receivedLimit?: number;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The demo API the example config points at: contacts to read, orders to create
 * idempotently and read back, and a receiver for the broker's trigger deliveries
 * (`POST /hooks/agent`) and job callbacks (`POST /callbacks`), shown at
 * `GET /received`. Returns a server that is not yet listening, so tests can bind
 * it to port 0.
 */
export function createSandboxServer(options: SandboxServerOptions): Server {
  const readKey = typeof options.apiKey === 'function' ? options.apiKey : () => options.apiKey as string;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ?? ((error: unknown) => console.error('[sandbox] unhandled error', error));
  const orders = new OrderStore();
  const inbox = new Inbox(options.receivedLimit);
  const receiverSecret = (kind: DeliveryKind) => {
    const secret = options.receiverSecrets?.[kind];
    return typeof secret === 'function' ? secret() : secret;
  };
  const onReceived = options.onReceived ?? (() => undefined);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Echoed so a client can verify that its pinned API version reached the upstream.
    const demoVersion = req.headers['demo-version'];
    if (typeof demoVersion === 'string') res.setHeader('Demo-Version', demoVersion);

    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';

    // Unauthenticated so orchestrators and start scripts can probe liveness.
    if (path === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
      sendJson(res, 200, { status: 'ok' });
      return;
    }

    // The receiver's paths are the only ones answered without the key (the broker signs
    // what it delivers instead). For every other path authentication comes before
    // routing, so an unauthenticated caller cannot map the API.
    const matchesOf = (candidates: readonly Route[]) =>
      candidates.map((route) => ({ route, match: route.pattern.exec(path) })).filter((m): m is { route: Route; match: RegExpExecArray } => m.match !== null);
    let matches = matchesOf(routes.filter((route) => route.public));
    if (matches.length === 0) {
      if (!isAuthorized(req.headers.authorization, readKey())) {
        throw new HttpError(401, 'missing or invalid API key', { 'WWW-Authenticate': 'Bearer realm="sandbox"' });
      }
      matches = matchesOf(routes.filter((route) => !route.public));
    }
    if (matches.length === 0) throw new HttpError(404, `no route for ${method} ${path}`);

    const hit = matches.find((m) => m.route.method === method);
    if (!hit) throw methodNotAllowed(matches.map((m) => m.route.method));

    await hit.route.handle({ req, res, params: decodeParams(hit.match), orders, maxBodyBytes, inbox, receiverSecret, onReceived });
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        // Too late for a clean error body: cut the response so the client sees a failure.
        onError(error);
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: error.message }, error.headers);
        return;
      }
      onError(error);
      sendJson(res, 500, { error: 'internal error' });
    });
  });
}

function methodNotAllowed(allowed: readonly string[]): HttpError {
  return new HttpError(405, 'method not allowed', { Allow: [...new Set(allowed)].join(', ') });
}

function decodeParams(match: RegExpExecArray): string[] {
  return match.slice(1).map((raw) => {
    try {
      return decodeURIComponent(raw ?? '');
    } catch {
      throw new HttpError(400, `malformed path segment "${raw}"`);
    }
  });
}
