import { Webhook } from 'standardwebhooks';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { SECRETS, standardEvent, stripeEvent } from '../webhooks/signers';
import { asyncConfig, startBroker, type Broker } from './harness';

/**
 * Async tools finished by a correlated webhook: the built-in
 * stripe.confirmPaymentIntent (Stripe's `payment_intent.*` events, matched on
 * `data.object.id`) and a file-declared tool on a Standard Webhooks source.
 */
let upstream: StubServer;
let receiver: StubServer;
let broker: Broker;
/** Runs inside the stub before it answers a confirm (the race test posts the webhook there). */
const beforeConfirm = new Map<string, () => Promise<void>>();

function paymentIntent(id: string, status: string) {
  return { id, object: 'payment_intent', amount: 2000, currency: 'usd', status, customer: null, created: 1_700_000_000, metadata: {}, client_secret: `${id}_secret_xyz` };
}

function stripeIntentEvent(type: string, id: string, status: string) {
  return stripeEvent({ type, body: JSON.stringify({ id: `evt_${id}_${type}`, object: 'event', type, data: { object: paymentIntent(id, status) } }) });
}

async function answer(req: StubRequest): Promise<StubReply> {
  const confirm = /^\/v1\/payment_intents\/(pi_\w+)\/confirm$/.exec(req.path);
  if (confirm) {
    await beforeConfirm.get(confirm[1]!)?.();
    return { body: paymentIntent(confirm[1]!, 'processing') };
  }
  const retrieve = /^\/v1\/payment_intents\/(pi_\w+)$/.exec(req.path);
  if (retrieve) return { body: paymentIntent(retrieve[1]!, 'processing') };
  if (req.method === 'POST' && req.path === '/shipments') {
    const { ref } = JSON.parse(req.body) as { ref: string };
    return { status: 201, body: { shipment: { id: `shp_${ref}`, state: 'accepted' } } };
  }
  return { status: 404, body: {} };
}

beforeAll(async () => {
  upstream = await StubServer.start(answer);
  receiver = await StubServer.start(() => ({ status: 204 }));
  const config = asyncConfig({
    triggerUrl: `${receiver.url}/hooks/agent`,
    integrations: {
      stripe: { baseUrl: upstream.url, auth: { type: 'apiKey', secret: 'STRIPE_KEY', prefix: 'Bearer ' } },
      ship: {
        baseUrl: upstream.url,
        tools: [
          {
            name: 'ship.createShipment',
            method: 'POST',
            path: '/shipments',
            input: { type: 'object', required: ['ref'], properties: { ref: { type: 'string' } } },
            output: { type: 'object', required: ['shipment_id', 'signed_by'], properties: { shipment_id: { type: 'string' }, signed_by: { type: 'string' } } },
            async: {
              referencePath: '$.shipment.id',
              deadlineMs: 1200,
              webhook: { source: 'acme', event: 'shipment.delivered', failEvent: 'shipment.lost', path: '$.data.shipment_id', resultPath: '$.data' },
            },
          },
        ],
      },
    },
  });
  broker = await startBroker('async-hook', config);
});

afterAll(async () => {
  await broker.close();
  await upstream.close();
  await receiver.close();
});

describe('stripe.confirmPaymentIntent, finished by its webhook', () => {
  it("waits while the payment is processing, then succeeds with the event's PaymentIntent; the event's trigger still fires", async () => {
    const { id } = await broker.submit('stripe.confirmPaymentIntent', { id: 'pi_A' });
    const waiting = await broker.waiting(id);
    expect(waiting.progress).toMatchObject({ state: 'waiting', reference: 'pi_A', via: ['poll', 'webhook'], upstream: { status: 'processing' } });

    // A forged event changes nothing.
    const forged = stripeIntentEvent('payment_intent.succeeded', 'pi_A', 'succeeded');
    const bad = stripeEvent({ type: 'payment_intent.succeeded', secret: 'whsec_wrong', body: forged.body });
    expect((await broker.hook('stripe', bad)).status).toBe(400);
    expect((await broker.get(id)).status).toBe('running');

    expect((await broker.hook('stripe', forged)).status).toBe(200);
    const job = await broker.settled(id, 5000);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { id: 'pi_A', status: 'succeeded', amount: 2000 } });
    expect(JSON.stringify(job.result)).not.toContain('secret');

    const delivery = await waitFor(() => receiver.requests.find((r) => r.body.includes('evt_pi_A_')), { what: 'the trigger' });
    expect(new Webhook(SECRETS.trigger).verify(delivery.body, delivery.headers as Record<string, string>)).toMatchObject({
      trigger: 'payment_done',
      type: 'payment_intent.succeeded',
    });
    // One confirm; no status check needed.
    expect(upstream.count((r) => r.path === '/v1/payment_intents/pi_A/confirm')).toBe(1);
    expect(upstream.count((r) => r.path === '/v1/payment_intents/pi_A')).toBe(0);
  });

  it('is completed by an event that arrived before the job began waiting', async () => {
    beforeConfirm.set('pi_B', async () => {
      const res = await broker.hook('stripe', stripeIntentEvent('payment_intent.succeeded', 'pi_B', 'succeeded'));
      expect(res.status).toBe(200);
    });
    const { id } = await broker.submit('stripe.confirmPaymentIntent', { id: 'pi_B' });
    // Without the look at stored events it would wait for the first status check (30 s) or the deadline (an hour).
    const job = await broker.settled(id, 5000);
    expect(job).toMatchObject({ status: 'succeeded', result: { id: 'pi_B', status: 'succeeded' } });
    expect(upstream.count((r) => r.path === '/v1/payment_intents/pi_B')).toBe(0);
  });

  it('fails when payment_intent.payment_failed arrives', async () => {
    const { id } = await broker.submit('stripe.confirmPaymentIntent', { id: 'pi_C' });
    await broker.waiting(id);
    expect((await broker.hook('stripe', stripeIntentEvent('payment_intent.payment_failed', 'pi_C', 'requires_payment_method'))).status).toBe(200);
    const job = await broker.settled(id, 5000);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR', retryable: false } });
    expect(job.error!.message).toContain('pi_C');
    expect(job.error!.message).toContain('stripe:evt_pi_C_payment_intent.payment_failed');
  });

  it('leaves other waiting jobs alone: an event completes only the job with its reference', async () => {
    const first = await broker.submit('stripe.confirmPaymentIntent', { id: 'pi_D' });
    const second = await broker.submit('stripe.confirmPaymentIntent', { id: 'pi_E' });
    await Promise.all([broker.waiting(first.id), broker.waiting(second.id)]);
    await broker.hook('stripe', stripeIntentEvent('payment_intent.succeeded', 'pi_E', 'succeeded'));
    expect((await broker.settled(second.id, 5000)).status).toBe('succeeded');
    expect((await broker.get(first.id)).status).toBe('running');
    await broker.hook('stripe', stripeIntentEvent('payment_intent.succeeded', 'pi_D', 'succeeded'));
    expect((await broker.settled(first.id, 5000)).status).toBe('succeeded');
  });
});

describe('a file-declared tool finished by a Standard Webhooks event', () => {
  it('succeeds with the event data at resultPath', async () => {
    const { id } = await broker.submit('ship.createShipment', { ref: 'one' });
    expect((await broker.waiting(id)).progress).toMatchObject({ reference: 'shp_one', via: ['webhook'] });
    const event = standardEvent({ body: JSON.stringify({ type: 'shipment.delivered', data: { shipment_id: 'shp_one', signed_by: 'R. Receiver' } }) });
    expect((await broker.hook('acme', event)).status).toBe(200);
    expect(await broker.settled(id, 5000)).toMatchObject({ status: 'succeeded', result: { shipment_id: 'shp_one', signed_by: 'R. Receiver' } });
  });

  it('fails on its failEvent, and TIMEOUT when nothing comes by the deadline', async () => {
    const lost = await broker.submit('ship.createShipment', { ref: 'lost' });
    const never = await broker.submit('ship.createShipment', { ref: 'never' });
    await Promise.all([broker.waiting(lost.id), broker.waiting(never.id)]);
    await broker.hook('acme', standardEvent({ body: JSON.stringify({ type: 'shipment.lost', data: { shipment_id: 'shp_lost' } }) }));
    expect(await broker.settled(lost.id, 5000)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR' } });

    const timedOut = await broker.settled(never.id, 5000);
    expect(timedOut).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', retryable: false }, progress: { reference: 'shp_never' } });
    expect(timedOut.error!.message).toContain('"shp_never"');
    expect(timedOut.error!.message).toContain('shipment.delivered');
  });
});
