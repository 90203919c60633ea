import { createHash } from 'node:crypto';
import type { StubReply, StubRequest } from '../helpers/stub-server';
import { parseForm } from './form';
import { KitStub, randomId } from './kit-stub';

export interface StripeStubOptions {
  /** The secret key the stub accepts (as `Authorization: Bearer <key>`). @defaultValue "sk_test_kit" */
  apiKey?: string;
}

type StripeObject = Record<string, unknown> & { id: string };

interface StoredIdempotency {
  fingerprint: string;
  reply: StubReply;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Plays Stripe's v1 API for the built-in tools: form-encoded requests, Stripe's
 * error JSON (`{"error":{"type","code","message","param"}}`) and statuses,
 * `Request-Id`, and `Idempotency-Key` replay — the same key with the same
 * parameters answers the stored result with `Idempotent-Replayed: true`; with
 * other parameters, 400 `idempotency_error`.
 *
 * Test cards: `payment_method: "pm_card_visa"` succeeds when confirmed,
 * `pm_card_chargeDeclined` is declined (402 `card_error`).
 */
export class StripeStub extends KitStub {
  readonly customers = new Map<string, StripeObject>();
  readonly paymentIntents = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  private readonly idempotency = new Map<string, StoredIdempotency>();

  private constructor(private readonly apiKey: string) {
    super();
  }

  static start(options: StripeStubOptions = {}): Promise<StripeStub> {
    return KitStub.listen(new StripeStub(options.apiKey ?? 'sk_test_kit'));
  }

  /** Requests that carried a given Idempotency-Key. */
  requestsWithKey(key: string): StubRequest[] {
    return this.requests.filter((r) => r.headers['idempotency-key'] === key);
  }

  /** Adds a PaymentIntent directly (e.g. a succeeded one to refund). */
  seedPaymentIntent(fields: Partial<StripeObject> & { amount: number; currency: string }): StripeObject {
    const pi = this.paymentIntent({ status: 'succeeded', ...fields });
    return pi;
  }

  protected errorReply(status: number, message: string, extra: Record<string, unknown> = {}): StubReply {
    const type = status === 429 ? 'rate_limit_error' : status === 402 ? 'card_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
    return {
      status,
      headers: { 'request-id': randomId('req_', 7) },
      body: { error: { type, message, ...(status === 429 ? { code: 'rate_limit' } : {}), ...extra } },
    };
  }

  protected authorize(req: StubRequest): StubReply | undefined {
    const auth = req.headers.authorization;
    if (!auth)
      return this.errorReply(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    if (auth !== `Bearer ${this.apiKey}`) return this.errorReply(401, `Invalid API Key provided: ${auth.replace(/^Bearer /, '').slice(0, 8)}***`);
    return undefined;
  }

  protected route(req: StubRequest): StubReply {
    const key = req.headers['idempotency-key'];
    if (req.method === 'POST' && typeof key === 'string') {
      const fingerprint = createHash('sha256').update(`${req.path}\0${req.body}`).digest('hex');
      const stored = this.idempotency.get(key);
      if (stored) {
        if (stored.fingerprint !== fingerprint) {
          return this.errorReply(
            400,
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            { type: 'idempotency_error' },
          );
        }
        return { ...stored.reply, headers: { ...stored.reply.headers, 'idempotent-replayed': 'true', 'idempotency-key': key } };
      }
      const reply = this.dispatch(req);
      // Stripe keeps the result of every request that ran, errors included, but not a 5xx or a conflict.
      if ((reply.status ?? 200) < 500 && reply.status !== 409 && reply.status !== 429) this.idempotency.set(key, { fingerprint, reply });
      return { ...reply, headers: { ...reply.headers, 'idempotency-key': key } };
    }
    return this.dispatch(req);
  }

  private dispatch(req: StubRequest): StubReply {
    const params = req.method === 'POST' ? parseForm(req.body) : Object.fromEntries(req.query);
    const ok = (object: StripeObject): StubReply => ({
      status: 200,
      headers: { 'request-id': randomId('req_', 7), 'stripe-version': String(req.headers['stripe-version'] ?? '') },
      body: object,
    });
    if (req.method === 'POST' && req.path === '/v1/customers') return ok(this.customer(params));
    if (req.method === 'POST' && req.path === '/v1/payment_intents') return this.createPaymentIntent(params, ok);
    const pi = /^\/v1\/payment_intents\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && pi) {
      const found = this.paymentIntents.get(decodeURIComponent(pi[1]!));
      if (!found) return this.errorReply(404, `No such payment_intent: '${decodeURIComponent(pi[1]!)}'`, { code: 'resource_missing', param: 'intent' });
      return ok(found);
    }
    if (req.method === 'POST' && req.path === '/v1/refunds') return this.createRefund(params, ok);
    return this.errorReply(404, `Unrecognized request URL (${req.method}: ${req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);
  }

  private customer(params: Record<string, unknown>): StripeObject {
    const customer: StripeObject = {
      id: randomId('cus_', 7),
      object: 'customer',
      created: now(),
      email: params.email ?? null,
      name: params.name ?? null,
      phone: params.phone ?? null,
      description: params.description ?? null,
      metadata: params.metadata ?? {},
      livemode: false,
      balance: 0,
      delinquent: false,
    };
    this.customers.set(customer.id, customer);
    return customer;
  }

  private paymentIntent(fields: Record<string, unknown>): StripeObject {
    const id = randomId('pi_', 12);
    const pi: StripeObject = {
      id,
      object: 'payment_intent',
      created: now(),
      livemode: false,
      client_secret: `${id}_secret_${randomId('', 12)}`,
      customer: null,
      description: null,
      payment_method: null,
      receipt_email: null,
      capture_method: 'automatic',
      latest_charge: null,
      amount_received: 0,
      metadata: {},
      ...fields,
    };
    this.paymentIntents.set(pi.id, pi);
    return pi;
  }

  private createPaymentIntent(params: Record<string, unknown>, ok: (o: StripeObject) => StubReply): StubReply {
    if (params.amount === undefined) return this.errorReply(400, 'Missing required param: amount.', { code: 'parameter_missing', param: 'amount' });
    if (!/^\d+$/.test(String(params.amount))) return this.errorReply(400, 'Invalid integer: ' + String(params.amount), { code: 'parameter_invalid_integer', param: 'amount' });
    if (params.currency === undefined) return this.errorReply(400, 'Missing required param: currency.', { code: 'parameter_missing', param: 'currency' });
    if (params.customer !== undefined && !this.customers.has(String(params.customer))) {
      return this.errorReply(400, `No such customer: '${String(params.customer)}'`, { code: 'resource_missing', param: 'customer' });
    }
    const amount = Number(params.amount);
    const confirm = params.confirm === 'true';
    if (confirm && params.payment_method === 'pm_card_chargeDeclined') {
      return this.errorReply(402, 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline', param: '' });
    }
    const succeeded = confirm && params.payment_method !== undefined;
    const pi = this.paymentIntent({
      amount,
      currency: params.currency,
      customer: params.customer ?? null,
      description: params.description ?? null,
      receipt_email: params.receipt_email ?? null,
      payment_method: params.payment_method ?? null,
      capture_method: params.capture_method ?? 'automatic',
      metadata: params.metadata ?? {},
      status: succeeded ? 'succeeded' : params.payment_method ? 'requires_confirmation' : 'requires_payment_method',
      amount_received: succeeded ? amount : 0,
      latest_charge: succeeded ? randomId('ch_', 12) : null,
    });
    return ok(pi);
  }

  private createRefund(params: Record<string, unknown>, ok: (o: StripeObject) => StubReply): StubReply {
    const piId = params.payment_intent as string | undefined;
    if (!piId && !params.charge)
      return this.errorReply(400, 'One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing' });
    const pi = piId ? this.paymentIntents.get(piId) : [...this.paymentIntents.values()].find((p) => p.latest_charge === params.charge);
    if (!pi)
      return this.errorReply(400, `No such ${piId ? 'payment_intent' : 'charge'}: '${piId ?? String(params.charge)}'`, {
        code: 'resource_missing',
        param: piId ? 'payment_intent' : 'charge',
      });
    if (pi.status !== 'succeeded') return this.errorReply(400, `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, { code: 'charge_not_refundable' });
    const refunded = [...this.refunds.values()].filter((r) => r.payment_intent === pi.id).reduce((sum, r) => sum + Number(r.amount), 0);
    const remaining = Number(pi.amount) - refunded;
    const amount = params.amount === undefined ? remaining : Number(params.amount);
    if (amount > remaining || remaining <= 0) {
      return this.errorReply(400, `Refund amount ($${(amount / 100).toFixed(2)}) is greater than unrefunded amount on charge ($${(remaining / 100).toFixed(2)})`, {
        code: 'amount_too_large',
        param: 'amount',
      });
    }
    const refund: StripeObject = {
      id: randomId('re_', 12),
      object: 'refund',
      amount,
      currency: pi.currency,
      charge: pi.latest_charge,
      payment_intent: pi.id,
      reason: params.reason ?? null,
      status: 'succeeded',
      created: now(),
      metadata: params.metadata ?? {},
    };
    this.refunds.set(refund.id, refund);
    return ok(refund);
  }
}
