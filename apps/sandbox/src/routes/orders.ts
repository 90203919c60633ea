import { HttpError } from '../http-error';
import { readJson, sendJson } from '../http';
import type { OrderInput } from '../order-store';
import type { Route } from './route';

/** Same rule as the broker's own API (docs/api.md#api-error-codes): 1–255 printable ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

export const createOrder: Route = {
  method: 'POST',
  pattern: /^\/orders$/,
  async handle({ req, res, orders, maxBodyBytes }) {
    const key = idempotencyKey(req.headers['idempotency-key']);
    const body = await readJson(req, maxBodyBytes);

    // A known key is answered from the record before validation, as Stripe does:
    // a retry must get the original outcome even if validation rules changed since.
    const idempotency = key === undefined ? undefined : { key, body };
    const result = idempotency && orders.replay(idempotency.key, body);
    const outcome = result ?? orders.create(parseOrderInput(body), idempotency);

    switch (outcome.kind) {
      case 'key-reused':
        throw new HttpError(422, 'Idempotency-Key was already used with a different request body');
      case 'replayed':
        sendJson(res, 201, outcome.order, { 'Idempotent-Replayed': 'true', Location: `/orders/${outcome.order.id}` });
        return;
      case 'created':
        sendJson(res, 201, outcome.order, { Location: `/orders/${outcome.order.id}` });
        return;
    }
  },
};

export const getOrder: Route = {
  method: 'GET',
  pattern: /^\/orders\/([^/]+)$/,
  handle({ res, orders, params: [id = ''] }) {
    const order = orders.get(id);
    if (!order) throw new HttpError(404, `order ${id} not found`);
    sendJson(res, 200, order);
  },
};

function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new HttpError(400, 'Idempotency-Key must be 1-255 printable ASCII characters');
  }
  return header;
}

/** Validates `{sku, qty}`, listing every problem in one message. */
function parseOrderInput(body: unknown): OrderInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  const { sku, qty } = body as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof sku !== 'string' || sku.trim() === '') problems.push('sku must be a non-empty string');
  if (typeof qty !== 'number' || !Number.isSafeInteger(qty) || qty < 1) {
    problems.push('qty must be an integer >= 1');
  }
  if (problems.length > 0) throw new HttpError(400, problems.join('; '));
  return { sku: sku as string, qty: qty as number };
}
