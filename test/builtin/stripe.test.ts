import { parseConfig } from '@broker/shared/config/load';
import { createToolRegistry, ToolError } from '@broker/tools';
import { builtinIntegrationConfig, parseForm, runTool, StripeStub } from '../kit';

/** The Stripe tools, run one at a time against the Stripe stub (no worker). */
let stub: StripeStub;
beforeAll(async () => {
  stub = await StripeStub.start();
});
afterAll(() => stub.close());

const config = (extra: Record<string, unknown> = {}) => ({ integrations: { stripe: builtinIntegrationConfig('stripe', stub.url, extra) } });
const run = (tool: string, input: unknown, extra: Partial<Parameters<typeof runTool>[0]> = {}) => runTool({ config: config(), tool, input, ...extra });
const lastRequest = () => stub.requests.at(-1)!;

describe('stripe built-in tools', () => {
  it('are listed with their pinned API version, idempotent', () => {
    const tools = createToolRegistry(parseConfig(config()))
      .list()
      .filter((t) => t.integration === 'stripe');
    expect(tools.map((t) => [t.name, t.idempotent, t.write, t.apiVersion])).toEqual(
      expect.arrayContaining([
        ['stripe.createCustomer', true, true, '2026-10-28.endive'],
        ['stripe.createPaymentIntent', true, true, '2026-10-28.endive'],
        ['stripe.createRefund', true, true, '2026-10-28.endive'],
        ['stripe.getPaymentIntent', true, false, '2026-10-28.endive'],
      ]),
    );
    // Every Stripe tool sends the job's key: Stripe honours Idempotency-Key on every write.
    expect(tools.every((t) => t.idempotent)).toBe(true);
  });

  it("createCustomer sends Stripe's form encoding, the secret key as Bearer, the pinned version and the job's idempotency key", async () => {
    const out = (await run('stripe.createCustomer', { email: 'ada@example.com', name: 'Ada', metadata: { crm_id: '42' } }, { idempotencyKey: 'job_abc' })) as { id: string };
    expect(out).toMatchObject({ object: 'customer', email: 'ada@example.com', name: 'Ada', metadata: { crm_id: '42' } });
    expect(out.id).toMatch(/^cus_/);
    const req = lastRequest();
    expect(req).toMatchObject({ method: 'POST', path: '/v1/customers' });
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(parseForm(req.body)).toEqual({ email: 'ada@example.com', name: 'Ada', metadata: { crm_id: '42' } });
    expect(req.headers.authorization).toBe('Bearer sk_test_kit');
    expect(req.headers['stripe-version']).toBe('2026-10-28.endive');
    expect(req.headers['idempotency-key']).toBe('job_abc');
    // The SDK's own transport, telemetry and client fingerprint are not used.
    expect(req.headers['x-stripe-client-user-agent']).toBeUndefined();
    expect(req.headers['x-stripe-client-telemetry']).toBeUndefined();
  });

  it('createPaymentIntent encodes nested params and does not return the client secret', async () => {
    const customer = (await run('stripe.createCustomer', { email: 'b@example.com' })) as { id: string };
    const pi = (await run(
      'stripe.createPaymentIntent',
      { amount: 2000, currency: 'usd', customer: customer.id, automatic_payment_methods: { enabled: true }, metadata: { order: 'o-1' } },
      { idempotencyKey: 'job_pi' },
    )) as Record<string, unknown>;
    expect(pi).toMatchObject({ object: 'payment_intent', amount: 2000, currency: 'usd', customer: customer.id, status: 'requires_payment_method' });
    expect(pi).not.toHaveProperty('client_secret');
    expect(parseForm(lastRequest().body)).toMatchObject({ amount: '2000', automatic_payment_methods: { enabled: 'true' } });
  });

  it('getPaymentIntent reads one, and answers NOT_FOUND for an unknown id', async () => {
    const created = (await run('stripe.createPaymentIntent', { amount: 500, currency: 'eur' }, { idempotencyKey: 'job_get' })) as { id: string };
    const got = await run('stripe.getPaymentIntent', { id: created.id });
    expect(got).toMatchObject({ id: created.id, amount: 500 });
    expect(lastRequest()).toMatchObject({ method: 'GET', path: `/v1/payment_intents/${created.id}` });
    expect(lastRequest().headers['idempotency-key']).toBeUndefined();
    const err = await run('stripe.getPaymentIntent', { id: 'pi_missing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404, message: expect.stringContaining("No such payment_intent: 'pi_missing'") });
  });

  it('createRefund refunds a succeeded payment once, and refuses more than is left', async () => {
    const pi = stub.seedPaymentIntent({ amount: 1000, currency: 'usd', latest_charge: 'ch_seeded1' });
    const refund = await run('stripe.createRefund', { payment_intent: pi.id, amount: 600, reason: 'requested_by_customer' }, { idempotencyKey: 'job_r1' });
    expect(refund).toMatchObject({ object: 'refund', amount: 600, payment_intent: pi.id, status: 'succeeded' });
    const tooMuch = await run('stripe.createRefund', { payment_intent: pi.id, amount: 600 }, { idempotencyKey: 'job_r2' }).catch((e: unknown) => e);
    expect(tooMuch).toMatchObject({ code: 'VALIDATION_ERROR', upstreamStatus: 400, message: expect.stringContaining('amount_too_large') });
  });

  it('validates input before any call: exactly one of payment_intent or charge, ids by prefix', async () => {
    const before = stub.count();
    await expect(run('stripe.createRefund', { amount: 1 })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('/payment_intent') });
    await expect(run('stripe.createRefund', { payment_intent: 'pi_1', charge: 'ch_1' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(run('stripe.getPaymentIntent', { id: 'cus_1' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(run('stripe.createPaymentIntent', { amount: 10, currency: 'USD' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(stub.count()).toBe(before);
  });

  it('classifies Stripe errors with our table: 402 card_error is UNKNOWN, a wrong key AUTHENTICATION_FAILED, 429 RATE_LIMITED', async () => {
    await expect(run('stripe.createPaymentIntent', { amount: 100, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true })).rejects.toMatchObject({
      code: 'UNKNOWN',
      upstreamStatus: 402,
      message: expect.stringContaining('card_declined'),
    });
    await expect(run('stripe.createCustomer', {}, { secrets: { STRIPE_SECRET_KEY: 'sk_test_wrong' } })).rejects.toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      upstreamStatus: 401,
    });
    stub.inject(429, { headers: { 'retry-after': '3' } });
    await expect(run('stripe.createCustomer', {})).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 3000 });
  });

  it('replays a retried create from its idempotency key instead of creating twice', async () => {
    const before = stub.customers.size;
    const first = (await run('stripe.createCustomer', { email: 'once@example.com' }, { idempotencyKey: 'job_once' })) as { id: string };
    const again = (await run('stripe.createCustomer', { email: 'once@example.com' }, { idempotencyKey: 'job_once' })) as { id: string };
    expect(again.id).toBe(first.id);
    expect(stub.customers.size).toBe(before + 1);
  });

  it('sends what the file writes: an explicit empty prefix sends the bare key, which Stripe refuses', async () => {
    const bare = { integrations: { stripe: { baseUrl: stub.url, auth: { type: 'apiKey', prefix: '', secret: 'STRIPE_SECRET_KEY' } } } };
    await expect(runTool({ config: bare, tool: 'stripe.createCustomer', input: {} })).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED', upstreamStatus: 401 });
    expect(lastRequest().headers.authorization).toBe('sk_test_kit');
  });

  it("uses the config's apiVersion over the pinned one", async () => {
    await runTool({ config: config({ apiVersion: { header: 'Stripe-Version', value: '2025-06-30.basil' } }), tool: 'stripe.createCustomer', input: {} });
    expect(lastRequest().headers['stripe-version']).toBe('2025-06-30.basil');
  });
});
