import { readBody, sendJson } from '../http';
import { summarize, verifyStandardWebhook, type DeliveryKind } from '../inbox';
import type { Route, RouteContext } from './route';

function parse(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Records one delivery and answers 200, whatever its signature: the demo shows what arrived, it refuses nothing. */
async function receive(kind: DeliveryKind, { req, res, inbox, maxBodyBytes, receiverSecret, onReceived }: RouteContext): Promise<void> {
  const raw = await readBody(req, maxBodyBytes);
  const secret = receiverSecret(kind);
  const verified = secret ? verifyStandardWebhook(secret, req.headers, raw) : null;
  const body = parse(raw);
  const one = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : null);
  const delivery = inbox.add({
    kind,
    receivedAt: new Date().toISOString(),
    path: (req.url ?? '').split('?', 1)[0] ?? '',
    webhookId: one('webhook-id'),
    idempotencyKey: one('idempotency-key'),
    verified,
    summary: summarize(kind, body, verified),
    body,
  });
  onReceived(delivery);
  sendJson(res, 200, { received: true, seq: delivery.seq });
}

/** `triggerDelivery.url` of the example config. */
export const receiveTrigger: Route = {
  method: 'POST',
  pattern: /^\/hooks\/agent$/,
  public: true,
  handle: (ctx) => receive('trigger', ctx),
};

/** A `callbackUrl` for jobs (`callbacks.allowHosts` of the example config lets 127.0.0.1 through). */
export const receiveCallback: Route = {
  method: 'POST',
  pattern: /^\/callbacks$/,
  public: true,
  handle: (ctx) => receive('callback', ctx),
};

/** `GET /received`: what arrived, newest first (`?kind=trigger|callback` to filter). */
export const listReceived: Route = {
  method: 'GET',
  pattern: /^\/received$/,
  public: true,
  handle({ req, res, inbox }) {
    const kind = new URL(req.url ?? '/', 'http://sandbox').searchParams.get('kind');
    const received = inbox.list().filter((d) => !kind || d.kind === kind);
    sendJson(res, 200, { received });
  },
};
