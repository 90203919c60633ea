import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import { staticCredentials } from '@broker/tools';
import type { StubRequest } from '../helpers/stub-server';
import { GitHubStub, HubSpotStub, KIT_SECRETS, runTool, ShopifyStub, StripeStub } from '../kit';

/**
 * docs/integrations.md#built-in-integrations: a built-in integration configured with `{"type":"apiKey","secret":"NAME"}`
 * alone sends its API's native form; a `header`/`prefix` written in the file wins.
 */

/** Only the secret: no header, no prefix. */
const ONLY_SECRET = { type: 'apiKey', secret: 'X' } as const;

/** Every header of a request that carries the key, so a second copy (or a wrong header) shows. */
const headersCarrying = (req: StubRequest, key: string) => Object.fromEntries(Object.entries(req.headers).filter(([, value]) => String(value).includes(key)));

describe('built-in integrations send their native apiKey form by themselves', () => {
  it('stripe: Authorization: Bearer <secret key>', async () => {
    const stub = await StripeStub.start();
    try {
      const key = KIT_SECRETS.STRIPE_SECRET_KEY!;
      await runTool({ config: { integrations: { stripe: { baseUrl: stub.url, auth: ONLY_SECRET } } }, tool: 'stripe.createCustomer', input: {}, secrets: { X: key } });
      expect(headersCarrying(stub.requests.at(-1)!, key)).toEqual({ authorization: `Bearer ${key}` });
    } finally {
      await stub.close();
    }
  });

  it('hubspot: Authorization: Bearer <private-app token>', async () => {
    const stub = await HubSpotStub.start();
    try {
      const key = KIT_SECRETS.HUBSPOT_TOKEN!;
      const id = stub.seedContact({ email: 'ada@example.com' });
      await runTool({ config: { integrations: { hubspot: { baseUrl: stub.url, auth: ONLY_SECRET } } }, tool: 'hubspot.getContact', input: { id }, secrets: { X: key } });
      expect(headersCarrying(stub.requests.at(-1)!, key)).toEqual({ authorization: `Bearer ${key}` });
    } finally {
      await stub.close();
    }
  });

  it('shopify: X-Shopify-Access-Token: <token>, and no Authorization header', async () => {
    const stub = await ShopifyStub.start();
    try {
      const key = KIT_SECRETS.SHOPIFY_ADMIN_TOKEN!;
      const [order] = stub.seedOrders(1);
      await runTool({ config: { integrations: { shopify: { baseUrl: stub.url, auth: ONLY_SECRET } } }, tool: 'shopify.getOrder', input: { id: order!.id }, secrets: { X: key } });
      const req = stub.requests.at(-1)!;
      expect(headersCarrying(req, key)).toEqual({ 'x-shopify-access-token': key });
      expect(req.headers.authorization).toBeUndefined();
    } finally {
      await stub.close();
    }
  });

  it('github: Authorization: Bearer <token> (the form GitHub documents)', async () => {
    const stub = await GitHubStub.start();
    try {
      const key = KIT_SECRETS.GITHUB_TOKEN!;
      stub.seedIssues('octo', 'kit', 1);
      await runTool({
        config: { integrations: { github: { baseUrl: stub.url, auth: ONLY_SECRET } } },
        tool: 'github.getIssue',
        input: { owner: 'octo', repo: 'kit', issue_number: 1 },
        secrets: { X: key },
      });
      expect(headersCarrying(stub.requests.at(-1)!, key)).toEqual({ authorization: `Bearer ${key}` });
    } finally {
      await stub.close();
    }
  });

  it('a prefix written in the file wins over the native one', async () => {
    const stub = await GitHubStub.start();
    try {
      const key = KIT_SECRETS.GITHUB_TOKEN!;
      stub.seedIssues('octo', 'kit', 1);
      const auth = { ...ONLY_SECRET, prefix: 'token ' };
      await runTool({
        config: { integrations: { github: { baseUrl: stub.url, auth } } },
        tool: 'github.getIssue',
        input: { owner: 'octo', repo: 'kit', issue_number: 1 },
        secrets: { X: key },
      });
      expect(headersCarrying(stub.requests.at(-1)!, key)).toEqual({ authorization: `token ${key}` });
    } finally {
      await stub.close();
    }
  });
});

describe('the effective apiKey header (resolved by name, per field)', () => {
  /** The headers one integration's default connection sends, from its auth as written in a file. */
  const headersFor = async (name: string, auth: Record<string, unknown>, connection = 'default') => {
    const config = parseConfig({ integrations: { [name]: { baseUrl: 'http://127.0.0.1:1', auth, connections: { other: { auth } } } } });
    return staticCredentials(name, config.integrations[name]!, envSecretsProvider({ X: 'k-123' })).authHeaders(connection, { forceRefresh: false });
  };

  it.each([
    ['stripe', {}, { Authorization: 'Bearer k-123' }],
    ['hubspot', {}, { Authorization: 'Bearer k-123' }],
    ['github', {}, { Authorization: 'Bearer k-123' }],
    ['shopify', {}, { 'X-Shopify-Access-Token': 'k-123' }],
    // A declared integration keeps the old defaults: the bare key in Authorization.
    ['acme', {}, { Authorization: 'k-123' }],
    ['acme', { prefix: 'Bearer ' }, { Authorization: 'Bearer k-123' }],
    // What the file writes wins, field by field; a field left out stays native.
    ['stripe', { prefix: '' }, { Authorization: 'k-123' }],
    ['stripe', { header: 'X-Api-Key' }, { 'X-Api-Key': 'Bearer k-123' }],
    ['shopify', { prefix: 'Bearer ' }, { 'X-Shopify-Access-Token': 'Bearer k-123' }],
    ['shopify', { header: 'Authorization', prefix: 'Bearer ' }, { Authorization: 'Bearer k-123' }],
  ])('%s with %j sends %j', async (name, written, expected) => {
    await expect(headersFor(name, { type: 'apiKey', secret: 'X', ...written })).resolves.toEqual(expected);
  });

  it('applies to named connections of a built-in too', async () => {
    await expect(headersFor('shopify', { type: 'apiKey', secret: 'X' }, 'other')).resolves.toEqual({ 'X-Shopify-Access-Token': 'k-123' });
  });

  it('leaves header and prefix unset in the parsed config, so "not written" stays visible', () => {
    const config = parseConfig({ integrations: { stripe: { baseUrl: 'http://127.0.0.1:1', auth: { type: 'apiKey', secret: 'X' } } } });
    expect(config.integrations.stripe!.auth).toEqual({ type: 'apiKey', secret: 'X' });
  });

  it('does not take inherited object keys for built-in names', async () => {
    await expect(headersFor('constructor', { type: 'apiKey', secret: 'X' })).resolves.toEqual({ Authorization: 'k-123' });
  });
});
