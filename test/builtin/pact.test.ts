import { join } from 'node:path';
import { MatchersV3, PactV3, PactV4 } from '@pact-foundation/pact';
import { builtinIntegrationConfig, runTool } from '../kit';

/**
 * Consumer contract tests (Pact V4): what the broker's Stripe and HubSpot
 * tools send, and the least of each answer they rely on, written as pact
 * files to test/pacts/ (generated on each run, not committed: a CI job
 * publishes them to a Pact Broker, where the provider's side is verified).
 * Pact's mock provider runs on localhost; the tools reach it through the
 * broker's own HTTP layer, exactly as they reach the real API.
 */
const { like, regex, integer } = MatchersV3;
const DIR = join(__dirname, '../pacts');
const CONSUMER = 'agent-request-broker';
const STRIPE_VERSION = '2026-10-28.endive';

/**
 * Stripe's form-encoded bodies are written with PactV3: in pact-js 17 a V4
 * `.body('application/x-www-form-urlencoded', …)` carries a content-type rule
 * that the core then applies to each form field and fails
 * (pact-foundation/pact-js#767); V3 matches the form field by field.
 */
describe('pact: stripe', () => {
  const pact = new PactV3({ consumer: CONSUMER, provider: 'stripe-api', dir: DIR, logLevel: 'error' });
  const run = (url: string, tool: string, input: unknown, idempotencyKey = 'job_pact_1') =>
    runTool({ config: { integrations: { stripe: builtinIntegrationConfig('stripe', url) } }, tool, input, idempotencyKey, secrets: { STRIPE_SECRET_KEY: 'sk_test_pact' } });
  const headers = { Authorization: 'Bearer sk_test_pact', 'Stripe-Version': STRIPE_VERSION, 'Content-Type': 'application/x-www-form-urlencoded' };
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

  it('creates a customer (form-encoded, idempotency key)', async () => {
    pact.addInteraction({
      states: [{ description: 'the secret key sk_test_pact is valid' }],
      uponReceiving: 'a request to create a customer',
      withRequest: {
        method: 'POST',
        path: '/v1/customers',
        headers: { ...headers, 'Idempotency-Key': regex(/^\S{1,255}$/, 'job_pact_1') },
        body: form({ email: 'ada@example.com', 'metadata[crm_id]': '42' }),
      },
      willRespondWith: {
        status: 200,
        body: { id: like('cus_NffrFeUfNV2Hib'), object: 'customer', email: 'ada@example.com', name: null, created: integer(1680893993), metadata: { crm_id: '42' } },
      },
    });
    await pact.executeTest(async (server) => {
      const out = await run(server.url, 'stripe.createCustomer', { email: 'ada@example.com', metadata: { crm_id: '42' } });
      expect(out).toMatchObject({ id: 'cus_NffrFeUfNV2Hib', object: 'customer' });
    });
  });

  it('creates a payment intent', async () => {
    pact.addInteraction({
      states: [{ description: 'the secret key sk_test_pact is valid' }],
      uponReceiving: 'a request to create a payment intent',
      withRequest: {
        method: 'POST',
        path: '/v1/payment_intents',
        headers: { ...headers, 'Idempotency-Key': like('job_pact_2') },
        body: form({ amount: '2000', currency: 'usd', 'automatic_payment_methods[enabled]': 'true' }),
      },
      willRespondWith: {
        status: 200,
        body: {
          id: like('pi_3MtwBwLkdIwHu7ix28a3tqPa'),
          object: 'payment_intent',
          amount: 2000,
          currency: 'usd',
          status: like('requires_payment_method'),
          customer: null,
          created: integer(1680800504),
          metadata: {},
          client_secret: like('pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH'),
        },
      },
    });
    await pact.executeTest(async (server) => {
      const out = await run(server.url, 'stripe.createPaymentIntent', { amount: 2000, currency: 'usd', automatic_payment_methods: { enabled: true } }, 'job_pact_2');
      expect(out).toMatchObject({ object: 'payment_intent', amount: 2000 });
      expect(out).not.toHaveProperty('client_secret');
    });
  });

  it('retrieves a payment intent', async () => {
    pact.addInteraction({
      states: [{ description: 'payment intent pi_known exists' }],
      uponReceiving: 'a request for a payment intent',
      withRequest: { method: 'GET', path: '/v1/payment_intents/pi_known', headers: { Authorization: 'Bearer sk_test_pact', 'Stripe-Version': STRIPE_VERSION } },
      willRespondWith: {
        status: 200,
        body: {
          id: 'pi_known',
          object: 'payment_intent',
          amount: integer(1500),
          currency: like('usd'),
          status: like('succeeded'),
          customer: null,
          created: integer(1680800504),
          metadata: {},
        },
      },
    });
    await pact.executeTest(async (server) => {
      await expect(run(server.url, 'stripe.getPaymentIntent', { id: 'pi_known' })).resolves.toMatchObject({ id: 'pi_known' });
    });
  });

  it('reads a missing payment intent (404) as NOT_FOUND', async () => {
    pact.addInteraction({
      states: [{ description: 'payment intent pi_unknown does not exist' }],
      uponReceiving: 'a request for a missing payment intent',
      withRequest: { method: 'GET', path: '/v1/payment_intents/pi_unknown', headers: { Authorization: 'Bearer sk_test_pact' } },
      willRespondWith: { status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', message: like("No such payment_intent: 'pi_unknown'") } } },
    });
    await pact.executeTest(async (server) => {
      await expect(run(server.url, 'stripe.getPaymentIntent', { id: 'pi_unknown' })).rejects.toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
    });
  });

  it('creates a refund', async () => {
    pact.addInteraction({
      states: [{ description: 'payment intent pi_paid succeeded for 1500' }],
      uponReceiving: 'a request to refund part of a payment',
      withRequest: {
        method: 'POST',
        path: '/v1/refunds',
        headers: { ...headers, 'Idempotency-Key': like('job_pact_3') },
        body: form({ payment_intent: 'pi_paid', amount: '500' }),
      },
      willRespondWith: {
        status: 200,
        body: {
          id: like('re_1Nispe2eZvKYlo2Cd31jOCgZ'),
          object: 'refund',
          amount: 500,
          currency: like('usd'),
          status: like('succeeded'),
          payment_intent: 'pi_paid',
          reason: null,
          created: integer(1692942318),
        },
      },
    });
    await pact.executeTest(async (server) => {
      await expect(run(server.url, 'stripe.createRefund', { payment_intent: 'pi_paid', amount: 500 }, 'job_pact_3')).resolves.toMatchObject({ object: 'refund', amount: 500 });
    });
  });
});

describe('pact: hubspot', () => {
  const pact = new PactV4({ consumer: CONSUMER, provider: 'hubspot-crm-v3', dir: DIR, logLevel: 'warn' });
  // The job id: what createDeal and logActivity carry as their reference (broker_reference, the note's HTML comment).
  const jobId = 'job_pact_hubspot';
  const run = (url: string, tool: string, input: unknown) =>
    runTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', url) } }, tool, input, jobId, secrets: { HUBSPOT_TOKEN: 'pat-na1-pact' } });
  const auth = { Authorization: 'Bearer pat-na1-pact' };
  const record = (properties: Record<string, unknown>) => ({
    id: like('512'),
    properties,
    createdAt: like('2026-01-01T00:00:00.000Z'),
    updatedAt: like('2026-01-01T00:00:00.000Z'),
    archived: false,
  });

  it('gets a contact with the chosen properties', () =>
    pact
      .addInteraction()
      .given('contact 512 exists')
      .uponReceiving('a request for a contact')
      .withRequest('GET', '/crm/v3/objects/contacts/512', (b) => b.headers(auth).query({ properties: 'email,firstname' }))
      .willRespondWith(200, (b) => b.jsonBody(record({ email: like('ada@example.com'), firstname: like('Ada') })))
      .executeTest(async (server) => {
        await expect(run(server.url, 'hubspot.getContact', { id: '512', properties: ['email', 'firstname'] })).resolves.toMatchObject({ properties: { firstname: 'Ada' } });
      }));

  it('updates a contact', () =>
    pact
      .addInteraction()
      .given('contact 512 exists')
      .uponReceiving('a request to update a contact')
      .withRequest('PATCH', '/crm/v3/objects/contacts/512', (b) =>
        b.headers({ ...auth, 'Content-Type': 'application/json' }).jsonBody({ properties: { lifecyclestage: 'customer' } }),
      )
      .willRespondWith(200, (b) => b.jsonBody(record({ lifecyclestage: 'customer' })))
      .executeTest(async (server) => {
        await expect(run(server.url, 'hubspot.updateContact', { id: '512', properties: { lifecyclestage: 'customer' } })).resolves.toMatchObject({
          properties: { lifecyclestage: 'customer' },
        });
      }));

  it('creates a deal associated with a contact', () =>
    pact
      .addInteraction()
      .given('contact 512 exists')
      .uponReceiving('a request to create a deal for a contact')
      .withRequest('POST', '/crm/v3/objects/deals', (b) =>
        b.headers({ ...auth, 'Content-Type': 'application/json' }).jsonBody({
          properties: { dealname: 'Renewal', dealstage: 'appointmentscheduled', pipeline: 'default', broker_reference: jobId },
          associations: [{ to: { id: '512' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }] }],
        }),
      )
      .willRespondWith(201, (b) => b.jsonBody(record({ dealname: 'Renewal', dealstage: 'appointmentscheduled', pipeline: 'default', broker_reference: jobId })))
      .executeTest(async (server) => {
        await expect(run(server.url, 'hubspot.createDeal', { dealname: 'Renewal', dealstage: 'appointmentscheduled', contactId: '512' })).resolves.toMatchObject({
          properties: { dealname: 'Renewal' },
        });
      }));

  it('logs a note on a contact', () =>
    pact
      .addInteraction()
      .given('contact 512 exists')
      .uponReceiving('a request to log a note on a contact')
      .withRequest('POST', '/crm/v3/objects/notes', (b) =>
        b.headers({ ...auth, 'Content-Type': 'application/json' }).jsonBody({
          properties: { hs_timestamp: '2026-06-01T09:30:00Z', hs_note_body: `Called about the renewal<!-- broker-reference: ${jobId} -->` },
          associations: [{ to: { id: '512' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] }],
        }),
      )
      .willRespondWith(201, (b) => b.jsonBody(record({ hs_note_body: `Called about the renewal<!-- broker-reference: ${jobId} -->`, hs_timestamp: like('2026-06-01T09:30:00Z') })))
      .executeTest(async (server) => {
        await expect(run(server.url, 'hubspot.logActivity', { contactId: '512', body: 'Called about the renewal', timestamp: '2026-06-01T09:30:00Z' })).resolves.toMatchObject({
          id: '512',
          properties: { hs_note_body: 'Called about the renewal' },
        });
      }));

  it('reads a 404 as NOT_FOUND', () =>
    pact
      .addInteraction()
      .given('contact 404 does not exist')
      .uponReceiving('a request for a missing contact')
      .withRequest('GET', '/crm/v3/objects/contacts/404', (b) => b.headers(auth).query({ properties: 'email,firstname,lastname,phone,company,lifecyclestage' }))
      .willRespondWith(404, (b) =>
        b.jsonBody({ status: 'error', message: like('resource not found'), category: 'OBJECT_NOT_FOUND', correlationId: like('0a1b2c3d-0000-4000-8000-000000000000') }),
      )
      .executeTest(async (server) => {
        await expect(run(server.url, 'hubspot.getContact', { id: '404' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }));
});
