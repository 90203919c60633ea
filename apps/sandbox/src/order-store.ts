import { createHash, randomBytes } from 'node:crypto';

export interface Order {
  id: string;
  sku: string;
  qty: number;
  status: 'created';
  createdAt: string;
}

export interface OrderInput {
  sku: string;
  qty: number;
}

export type CreateResult = { kind: 'created'; order: Order } | { kind: 'replayed'; order: Order } | { kind: 'key-reused' };

interface IdempotencyRecord {
  fingerprint: string;
  orderId: string;
  expiresAt: number;
}

export interface OrderStoreOptions {
  /**
   * Oldest orders are forgotten beyond this many, so a long-running demo cannot grow
   * without bound.
   * @defaultValue 10000
   */
  maxOrders?: number;
  /**
   * How long an Idempotency-Key is remembered; Stripe keeps keys for 24 hours.
   * @defaultValue 86400000
   */
  idempotencyTtlMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/**
 * In-memory orders with Stripe-style idempotency: the first request with a key is
 * stored with a fingerprint of its body; a retry with the same key and body gets the
 * original order back, a different body under the same key is refused.
 * Create is synchronous, so concurrent duplicates cannot both miss the key.
 */
export class OrderStore {
  private readonly orders = new Map<string, Order>();
  private readonly keys = new Map<string, IdempotencyRecord>();
  private readonly maxOrders: number;
  private readonly idempotencyTtlMs: number;
  private readonly now: () => number;

  constructor(options: OrderStoreOptions = {}) {
    this.maxOrders = options.maxOrders ?? 10_000;
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 24 * 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  get(id: string): Order | undefined {
    return this.orders.get(id);
  }

  /** Looks up a live idempotency key; `undefined` when unknown or expired. */
  replay(key: string, body: unknown): CreateResult | undefined {
    const record = this.keys.get(key);
    if (!record) return undefined;
    if (record.expiresAt <= this.now()) {
      this.keys.delete(key);
      return undefined;
    }
    if (record.fingerprint !== fingerprint(body)) return { kind: 'key-reused' };
    const order = this.orders.get(record.orderId);
    // The order was evicted by the size cap: treat the key as fresh rather than 500.
    return order ? { kind: 'replayed', order } : undefined;
  }

  create(input: OrderInput, idempotency?: { key: string; body: unknown }): CreateResult {
    if (idempotency) {
      const previous = this.replay(idempotency.key, idempotency.body);
      if (previous) return previous;
    }

    const order: Order = {
      id: `ord_${randomBytes(12).toString('hex')}`,
      sku: input.sku,
      qty: input.qty,
      status: 'created',
      createdAt: new Date(this.now()).toISOString(),
    };
    this.orders.set(order.id, order);
    evictOldest(this.orders, this.maxOrders);

    if (idempotency) {
      this.keys.set(idempotency.key, {
        fingerprint: fingerprint(idempotency.body),
        orderId: order.id,
        expiresAt: this.now() + this.idempotencyTtlMs,
      });
      evictOldest(this.keys, this.maxOrders);
    }
    return { kind: 'created', order };
  }
}

/** Maps iterate in insertion order, so the first keys are the oldest. */
function evictOldest<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}

/** Hash of the body with object keys sorted, so `{"qty":1,"sku":"a"}` matches `{"sku":"a","qty":1}`. */
function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
