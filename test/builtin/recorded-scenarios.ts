import { GitHubStub, HubSpotStub, ShopifyStub, StripeStub, type KitStub } from '../kit';

type Integration = 'stripe' | 'hubspot' | 'shopify' | 'github';

/** One recorded call of one tool: what the upstream holds before it (`seed`, at recording only) and the input. */
export interface Scenario {
  tool: string;
  integration: Integration;
  input: Record<string, unknown>;
  seed?: (stub: KitStub) => void;
}

export const STUBS: Record<Integration, () => Promise<KitStub>> = {
  stripe: () => StripeStub.start(),
  hubspot: () => HubSpotStub.start(),
  shopify: () => ShopifyStub.start(),
  github: () => GitHubStub.start(),
};

const CONTACT = '101';

export const SCENARIOS: Scenario[] = [
  { tool: 'stripe.createCustomer', integration: 'stripe', input: { email: 'recorded@example.com', name: 'Recorded Customer', metadata: { source: 'kit' } } },
  { tool: 'stripe.createPaymentIntent', integration: 'stripe', input: { amount: 2500, currency: 'usd', automatic_payment_methods: { enabled: true }, metadata: { order: 'o-7' } } },
  {
    tool: 'stripe.getPaymentIntent',
    integration: 'stripe',
    input: { id: 'pi_recorded1' },
    seed: (s) => void (s as StripeStub).seedPaymentIntent({ id: 'pi_recorded1', amount: 1500, currency: 'usd' }),
  },
  {
    tool: 'stripe.createRefund',
    integration: 'stripe',
    input: { payment_intent: 'pi_recorded2', amount: 500, reason: 'requested_by_customer' },
    seed: (s) => void (s as StripeStub).seedPaymentIntent({ id: 'pi_recorded2', amount: 1500, currency: 'usd', latest_charge: 'ch_recorded2' }),
  },
  {
    tool: 'hubspot.getContact',
    integration: 'hubspot',
    input: { id: CONTACT },
    seed: (s) => void (s as HubSpotStub).seedContact({ email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace' }, CONTACT),
  },
  {
    tool: 'hubspot.updateContact',
    integration: 'hubspot',
    input: { id: 'ada@example.com', idProperty: 'email', properties: { lifecyclestage: 'customer' } },
    seed: (s) => void (s as HubSpotStub).seedContact({ email: 'ada@example.com', firstname: 'Ada' }, CONTACT),
  },
  {
    tool: 'hubspot.createDeal',
    integration: 'hubspot',
    input: { dealname: 'Recorded renewal', dealstage: 'appointmentscheduled', amount: 900, closedate: '2026-12-31T00:00:00Z', contactId: CONTACT },
    seed: (s) => void (s as HubSpotStub).seedContact({ email: 'ada@example.com' }, CONTACT),
  },
  {
    tool: 'hubspot.logActivity',
    integration: 'hubspot',
    input: { contactId: CONTACT, body: 'Discussed the renewal by phone.', timestamp: '2026-06-01T09:30:00Z' },
    seed: (s) => void (s as HubSpotStub).seedContact({ email: 'ada@example.com' }, CONTACT),
  },
  // Five orders, two a page: three recorded pages, cursors included.
  { tool: 'shopify.listOrders', integration: 'shopify', input: { pageSize: 2, query: 'financial_status:paid' }, seed: (s) => void (s as ShopifyStub).seedOrders(7) },
  { tool: 'shopify.getOrder', integration: 'shopify', input: { id: '450789470' }, seed: (s) => void (s as ShopifyStub).seedOrders(2) },
  {
    tool: 'github.createIssue',
    integration: 'github',
    input: { owner: 'octo', repo: 'kit', title: 'Recorded issue', body: 'From the recorder', labels: ['bug'] },
    seed: (s) => (s as GitHubStub).seedIssues('octo', 'kit', 0),
  },
  { tool: 'github.getIssue', integration: 'github', input: { owner: 'octo', repo: 'kit', issue_number: 2 }, seed: (s) => (s as GitHubStub).seedIssues('octo', 'kit', 2) },
  {
    tool: 'github.listIssues',
    integration: 'github',
    input: { owner: 'octo', repo: 'kit', state: 'all', maxRecords: 3 },
    seed: (s) => (s as GitHubStub).seedIssues('octo', 'kit', 5),
  },
];
