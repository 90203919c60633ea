import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { startWorkerRig, type WorkerRig } from '../helpers/broker';
import { uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { builtinIntegrationConfig, GitHubStub, HubSpotStub, KIT_SECRETS, ShopifyStub, StripeStub } from '../kit';

/**
 * The built-in tools end to end: a real worker (BullMQ, Redis, the call gate,
 * the retry policy) running them against the kit's stubs.
 */
const prefix = uniquePrefix('builtin-e2e');
let rig: WorkerRig;
let config: BrokerConfig;
let stripe: StripeStub;
let hubspot: HubSpotStub;
let shopify: ShopifyStub;
let github: GitHubStub;
let contactId: string;

const retry = { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 };

beforeAll(async () => {
  [stripe, hubspot, shopify, github] = await Promise.all([
    StripeStub.start(),
    HubSpotStub.start(),
    // Round costs: a page of orders 40 points, one order 10; the bucket holds 200 and refills 40 a second.
    ShopifyStub.start({ bucket: { maximumAvailable: 200, restoreRate: 40 }, costOf: (op) => (op === 'ListOrders' ? 40 : op === 'GetOrder' ? 10 : undefined) }),
    GitHubStub.start(),
  ]);
  contactId = hubspot.seedContact({ email: 'ada@example.com', firstname: 'Ada' });
  shopify.seedOrders(60);
  github.seedIssues('octo', 'kit', 251);
  config = parseConfig({
    integrations: {
      stripe: builtinIntegrationConfig('stripe', stripe.url, { timeoutMs: 400, retry }),
      hubspot: builtinIntegrationConfig('hubspot', hubspot.url, { retry }),
      shopify: builtinIntegrationConfig('shopify', shopify.url, { retry, concurrency: 2 }),
      // Two calls per 400 ms: a listing's later pages must wait for the window too.
      github: builtinIntegrationConfig('github', github.url, { retry, rateLimit: { max: 2, durationMs: 400 } }),
    },
  });
  rig = await startWorkerRig(config, prefix, KIT_SECRETS);
});

afterAll(async () => {
  await rig.close();
  await Promise.all([stripe.close(), hubspot.close(), shopify.close(), github.close()]);
});

async function run(tool: string, input: Record<string, unknown>) {
  return rig.jobs.settled(await rig.jobs.submit(tool, input));
}

describe('built-in tools through the worker', () => {
  it('runs a tool of each integration against its stub', async () => {
    const [customer, contact, order, issue] = await Promise.all([
      run('stripe.createCustomer', { email: 'e2e@example.com' }),
      run('hubspot.getContact', { id: contactId }),
      run('shopify.getOrder', { id: '450789470' }),
      run('github.createIssue', { owner: 'octo', repo: 'kit', title: 'From the worker' }),
    ]);
    expect(customer).toMatchObject({ status: 'succeeded', attempts: 1, result: { object: 'customer', email: 'e2e@example.com' } });
    expect(contact).toMatchObject({ status: 'succeeded', result: { id: contactId, properties: { firstname: 'Ada' } } });
    expect(order).toMatchObject({ status: 'succeeded', result: { name: '#1002' } });
    expect(issue).toMatchObject({ status: 'succeeded', result: { number: 252, title: 'From the worker' } });
    // The Stripe call carried the job's own id as its idempotency key.
    expect(stripe.requestsWithKey(customer.id)).toHaveLength(1);
  });

  it('sends the same Idempotency-Key on every Stripe attempt, so a lost answer does not create twice', async () => {
    const before = stripe.customers.size;
    // The first attempt creates the customer, then its answer is lost (the broker times out).
    stripe.inject('timeout-after-commit', { match: (r) => r.path === '/v1/customers' });
    const job = await run('stripe.createCustomer', { email: 'lost-answer@example.com' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { email: 'lost-answer@example.com' } });
    const sent = stripe.requests.filter((r) => r.path === '/v1/customers' && r.body.includes('lost-answer'));
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((r) => r.headers['idempotency-key']))).toEqual(new Set([job.id]));
    expect(stripe.customers.size).toBe(before + 1);
  });

  it('keeps the key across a 500 and a retry of a payment intent', async () => {
    stripe.inject(500, { match: (r) => r.path === '/v1/payment_intents' });
    const job = await run('stripe.createPaymentIntent', { amount: 4200, currency: 'usd' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2, result: { amount: 4200 } });
    const keys = stripe.requests
      .filter((r) => r.path === '/v1/payment_intents')
      .slice(-2)
      .map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([job.id, job.id]);
  });

  it('shows pagination progress on the job while it runs, and keeps the rate limit across pages', async () => {
    // Slow page 2 down so the record can be read mid-listing.
    github.inject({ delayMs: 600 }, { match: (r) => r.query.get('page') === '2' });
    const id = await rig.jobs.submit('github.listIssues', { owner: 'octo', repo: 'kit', state: 'all' });
    const midway = await waitFor(
      async () => {
        const record = await rig.jobs.store.get(id);
        return record?.status === 'running' && record.progress ? record : undefined;
      },
      { what: 'progress of the first page' },
    );
    expect(midway.progress).toEqual({ page: 1, records: 100 });
    const done = await rig.jobs.settled(id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, progress: { page: 3, records: 252 }, result: { pages: 3, truncated: false } });
    expect((done.result as { issues: unknown[] }).issues).toHaveLength(252);
    const pages = github.requests.filter((r) => r.path.endsWith('/issues') && r.method === 'GET').slice(-3);
    // Three calls, at most two per 400 ms: the third starts a window after the first (less the
    // first call's way from the gate to the stub). Ungated, all three would arrive within ~30 ms.
    expect(pages[2]!.at - pages[0]!.at).toBeGreaterThanOrEqual(350);
  });

  it('stops a listing at its cap and says where to resume', async () => {
    const job = await run('github.listIssues', { owner: 'octo', repo: 'kit', state: 'all', maxRecords: 150 });
    expect(job).toMatchObject({ status: 'succeeded', progress: { page: 2, records: 150 }, result: { pages: 2, truncated: true, nextPage: 2 } });
    expect((job.result as { issues: unknown[] }).issues).toHaveLength(150);
  });

  it('pauses Shopify for every job when the cost bucket runs low, and calls nothing while paused', async () => {
    const pauseKey = redisKeys(prefix).pause('shopify');
    shopify.setAvailable(200);
    // Six pages of 40 points from a 200-point bucket: after the fifth the bucket is empty, and the sixth must wait ~1 s.
    const listing = await rig.jobs.submit('shopify.listOrders', { pageSize: 10 });
    const seenAt = await waitFor(async () => ((await rig.redis.pttl(pauseKey)) > 300 ? Date.now() : undefined), { intervalMs: 5, what: 'the cost pause' });
    const pauseEndsAt = seenAt + (await rig.redis.pttl(pauseKey));
    const calls = shopify.count();
    // Another Shopify job submitted during the pause waits it out without spending an attempt.
    const other = await rig.jobs.submit('shopify.getOrder', { id: '450789469' });
    await waitFor(async () => (await rig.jobs.store.get(other))?.status === 'deferred', { intervalMs: 5, what: 'the other job to be deferred' });
    expect(shopify.count()).toBe(calls);
    const [listed, got] = await Promise.all([rig.jobs.settled(listing), rig.jobs.settled(other)]);
    expect(listed).toMatchObject({ status: 'succeeded', attempts: 1, result: { pages: 6, truncated: false } });
    expect(got).toMatchObject({ status: 'succeeded', attempts: 1, result: { name: '#1001' } });
    const duringPause = shopify.requests.filter((r) => r.at > seenAt && r.at < pauseEndsAt - 15);
    expect(duringPause).toEqual([]);
  });

  it('defers a THROTTLED job like a 429: no attempt spent, then it succeeds', async () => {
    shopify.setAvailable(0);
    const job = await run('shopify.getOrder', { id: '450789471' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { name: '#1003' } });
    // Two calls: the throttled one, then the one after the bucket refilled.
    expect(shopify.count((r) => r.body.includes('450789471'))).toBe(2);
  });
});
