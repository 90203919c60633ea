import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinIntegrationConfig, GitHubStub, HubSpotStub, RecordingProxy, runTool, ShopifyStub, StripeStub } from '.';
import type { ToolError } from '@broker/tools';
import { decideTry } from '@broker/worker';

/** The kit itself: failures on demand in each integration's shape, Stripe's idempotency, the recorder. */
describe('fault injection', () => {
  it("answers injected statuses in the integration's own error shape, then behaves again", async () => {
    const hubspot = await HubSpotStub.start();
    const id = hubspot.seedContact({ email: 'a@example.com' });
    const run = () => runTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', hubspot.url) } }, tool: 'hubspot.getContact', input: { id } });
    try {
      hubspot.inject(429, { times: 2, headers: { 'retry-after': '1' } });
      await expect(run()).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 1000, message: expect.stringContaining('"errorType":"RATE_LIMIT"') });
      await expect(run()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      hubspot.inject(502);
      await expect(run()).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 502, message: expect.stringContaining('"category":"INTERNAL_ERROR"') });
      await expect(run()).resolves.toMatchObject({ id });
    } finally {
      await hubspot.close();
    }
  });

  it('plays timeouts and dropped connections, only for the requests that match', async () => {
    const github = await GitHubStub.start();
    github.seedIssues('o', 'r', 1);
    const config = { integrations: { github: builtinIntegrationConfig('github', github.url, { timeoutMs: 200 }) } };
    try {
      github.inject('timeout', { match: (r) => r.path.endsWith('/issues/1') });
      await expect(runTool({ config, tool: 'github.getIssue', input: { owner: 'o', repo: 'r', issue_number: 1 } })).rejects.toMatchObject({ code: 'TIMEOUT' });
      // A write without an idempotency key that loses its connection after sending is not resent:
      // the error says it was sent without a key, and the worker's decision makes it OUTCOME_UNKNOWN.
      github.inject('reset-after-commit', { match: (r) => r.method === 'POST' });
      const lost = await runTool({ config, tool: 'github.createIssue', input: { owner: 'o', repo: 'r', title: 't' } }).catch((err: ToolError) => err);
      expect(lost).toMatchObject({ stage: 'exchange', writeWithoutKey: true });
      const decision = decideTry(
        lost as ToolError,
        { attempt: 1, maxAttempts: 5, rateLimitDeferrals: 0, maxRateLimitDeferrals: 10, throttleScope: 'integration' },
        { baseDelayMs: 10, maxDelayMs: 10 },
      );
      expect(decision).toMatchObject({ action: 'fail', error: { code: 'OUTCOME_UNKNOWN', retryable: false } });
      expect(github.repos.get('o/r')!.issues).toHaveLength(2);
      await expect(runTool({ config, tool: 'github.getIssue', input: { owner: 'o', repo: 'r', issue_number: 2 } })).resolves.toMatchObject({ number: 2 });
    } finally {
      await github.close();
    }
  });

  it("speaks Shopify's HTTP-level errors: a plain-text errors field, Retry-After on 429", async () => {
    const shopify = await ShopifyStub.start();
    try {
      shopify.inject(429);
      await expect(
        runTool({ config: { integrations: { shopify: builtinIntegrationConfig('shopify', shopify.url) } }, tool: 'shopify.getOrder', input: { id: '1' } }),
      ).rejects.toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterMs: 2000,
        message: expect.stringContaining('Exceeded 2 calls per second'),
      });
    } finally {
      await shopify.close();
    }
  });
});

describe('the docs/testing.md example', () => {
  it('a lost answer times out retryably, and the customer exists once', async () => {
    const stripe = await StripeStub.start();
    try {
      stripe.inject('timeout-after-commit', { match: (r) => r.path === '/v1/customers' });
      await expect(
        runTool({
          config: { integrations: { stripe: builtinIntegrationConfig('stripe', stripe.url, { timeoutMs: 300 }) } },
          tool: 'stripe.createCustomer',
          input: { email: 'a@example.com' },
        }),
      ).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(stripe.customers.size).toBe(1);
    } finally {
      await stripe.close();
    }
  });
});

describe("the Stripe stub's idempotency", () => {
  let stripe: StripeStub;
  beforeEach(async () => {
    stripe = await StripeStub.start();
  });
  afterEach(() => stripe.close());

  const post = (body: string, key?: string) =>
    fetch(`${stripe.url}/v1/customers`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_kit', 'content-type': 'application/x-www-form-urlencoded', ...(key ? { 'idempotency-key': key } : {}) },
      body,
    });

  it('replays the stored answer for the same key and parameters', async () => {
    const first = await post('email=a%40b.co', 'k1');
    const again = await post('email=a%40b.co', 'k1');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect(stripe.customers.size).toBe(1);
  });

  it('refuses the same key with other parameters (400 idempotency_error)', async () => {
    await post('email=a%40b.co', 'k2');
    const other = await post('email=c%40d.co', 'k2');
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { type: string } }).error.type).toBe('idempotency_error');
  });

  it('creates again without a key, and refuses a missing or wrong secret key', async () => {
    await post('email=a%40b.co');
    await post('email=a%40b.co');
    expect(stripe.customers.size).toBe(2);
    const anonymous = await fetch(`${stripe.url}/v1/customers`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { message: string } }).error.message).toContain('You did not provide an API key');
  });
});

describe('the recorder', () => {
  it('records exchanges through a proxy without credentials, and a stub replays them strictly', async () => {
    const stripe = await StripeStub.start();
    const proxy = await RecordingProxy.start(stripe.url);
    const dir = mkdtempSync(join(tmpdir(), 'kit-rec-'));
    try {
      const input = { email: 'rec@example.com', description: 'key sk_test_kit must not be kept' };
      const output = await runTool({ config: { integrations: { stripe: builtinIntegrationConfig('stripe', proxy.url) } }, tool: 'stripe.createCustomer', input });
      const fixture = proxy.save(join(dir, 'f.json'), { tool: 'stripe.createCustomer', recordedFrom: 'stub', input, output });
      const text = readFileSync(join(dir, 'f.json'), 'utf8');
      expect(text).not.toContain('sk_test_kit');
      expect(text).not.toMatch(/authorization/i);
      expect(fixture.interactions).toHaveLength(1);
      expect(fixture.interactions[0]!.request).toMatchObject({
        method: 'POST',
        path: '/v1/customers',
        headers: { 'stripe-version': '2026-10-28.endive', 'idempotency-key': '<present>' },
      });

      const replayer = await StripeStub.start();
      try {
        replayer.replay(fixture);
        const replayed = await runTool({ config: { integrations: { stripe: builtinIntegrationConfig('stripe', replayer.url) } }, tool: 'stripe.createCustomer', input });
        expect(replayed).toEqual(JSON.parse(JSON.stringify(fixture.output)));
        expect(replayer.replayUnused).toHaveLength(0);
        expect(replayer.customers.size).toBe(0);
        // A request the recording does not know fails loudly.
        await expect(
          runTool({ config: { integrations: { stripe: builtinIntegrationConfig('stripe', replayer.url) } }, tool: 'stripe.createCustomer', input: { email: 'other@example.com' } }),
        ).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
        expect(replayer.replayMismatches).toHaveLength(1);
      } finally {
        await replayer.close();
      }
    } finally {
      await proxy.close();
      await stripe.close();
    }
  });
});
