import { runTool, builtinIntegrationConfig, StripeStub, GitHubStub, ShopifyStub, HubSpotStub } from '../kit';

test('smoke', async () => {
  const stripe = await StripeStub.start();
  const out = await runTool({ config: { integrations: { stripe: builtinIntegrationConfig('stripe', stripe.url) } }, tool: 'stripe.createCustomer', input: { email: 'a@b.co', metadata: { x: '1' } } });
  console.log(out, stripe.requests.map(r => [r.method, r.path, r.headers, r.body]));
  await stripe.close();
  const gh = await GitHubStub.start();
  gh.seedIssues('o', 'r', 5);
  const progress: unknown[] = [];
  const out2 = await runTool({ config: { integrations: { github: builtinIntegrationConfig('github', gh.url) } }, tool: 'github.listIssues', input: { owner: 'o', repo: 'r', maxRecords: 4 }, progress });
  console.log(JSON.stringify(out2).slice(0, 300), progress, gh.requests.map(r => r.path + '?' + r.query.toString()));
  await gh.close();
  const sh = await ShopifyStub.start();
  sh.seedOrders(7);
  const pauses: unknown[] = [];
  const out3 = await runTool({ config: { integrations: { shopify: builtinIntegrationConfig('shopify', sh.url) } }, tool: 'shopify.listOrders', input: { pageSize: 3 }, progress, pauses });
  console.log(JSON.stringify(out3).slice(0, 300), pauses, sh.throttleStatus());
  const out4 = await runTool({ config: { integrations: { shopify: builtinIntegrationConfig('shopify', sh.url) } }, tool: 'shopify.getOrder', input: { id: '450789470' } });
  console.log(JSON.stringify(out4).slice(0, 300));
  await sh.close();
  const hs = await HubSpotStub.start();
  const id = hs.seedContact({ email: 'ada@example.com', firstname: 'Ada' });
  const out5 = await runTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', hs.url) } }, tool: 'hubspot.getContact', input: { id: 'ada@example.com', idProperty: 'email' } });
  const out6 = await runTool({ config: { integrations: { hubspot: builtinIntegrationConfig('hubspot', hs.url) } }, tool: 'hubspot.logActivity', input: { contactId: id, body: 'called' } });
  console.log(out5, out6);
  await hs.close();
});
