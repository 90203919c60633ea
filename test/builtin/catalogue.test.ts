import { parseConfig } from '@broker/shared/config/load';
import { builtinIntegrations, createCatalogue } from '@broker/tools';
import { builtinIntegrationConfig } from '../kit';

describe('the built-in catalogue', () => {
  it("offers an integration's built-in tools only when the config configures it", () => {
    const none = createCatalogue(parseConfig({}));
    expect(none.list()).toEqual([]);
    const some = createCatalogue(parseConfig({ integrations: { github: builtinIntegrationConfig('github', 'http://127.0.0.1:1') } }));
    const names = some.list().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['github.createIssue', 'github.getIssue', 'github.listIssues']));
    expect(names.every((n) => n.startsWith('github.'))).toBe(true);
  });

  it('has every tool of the contract, one file each, with an agent-facing description and JSON Schemas', () => {
    const all = createCatalogue(
      parseConfig({ integrations: Object.fromEntries((['stripe', 'hubspot', 'shopify', 'github'] as const).map((n) => [n, builtinIntegrationConfig(n, 'http://127.0.0.1:1')])) }),
    ).list();
    // Other built-ins may join these; the contract's are all there.
    expect(all.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'github.createIssue',
        'github.getIssue',
        'github.listIssues',
        'hubspot.createDeal',
        'hubspot.getContact',
        'hubspot.logActivity',
        'hubspot.updateContact',
        'shopify.getOrder',
        'shopify.listOrders',
        'stripe.createCustomer',
        'stripe.createPaymentIntent',
        'stripe.createRefund',
        'stripe.getPaymentIntent',
      ]),
    );
    for (const tool of all) {
      expect(tool.description.length).toBeGreaterThan(40);
      expect(tool.inputSchema).toMatchObject({ type: 'object' });
      expect(tool.outputSchema).toMatchObject({ type: 'object' });
      expect(tool.apiVersion).toEqual(expect.any(String));
    }
    expect(Object.fromEntries(all.map((t) => [t.name, t.idempotent]))).toMatchObject({
      'stripe.createCustomer': true,
      'stripe.createRefund': true,
      'hubspot.createDeal': false,
      'hubspot.logActivity': false,
      'hubspot.updateContact': true,
      'github.createIssue': false,
    });
    expect(Object.keys(builtinIntegrations).sort()).toEqual(['github', 'hubspot', 'shopify', 'stripe']);
  });

  it('lets a tool declared in the file override a built-in of the same name', () => {
    const catalogue = createCatalogue(
      parseConfig({
        integrations: {
          github: { ...builtinIntegrationConfig('github', 'http://127.0.0.1:1'), tools: [{ name: 'github.getIssue', method: 'GET', path: '/x', description: 'mine' }] },
        },
      }),
    );
    expect(catalogue.get('github.getIssue')!.description).toBe('mine');
  });

  it('validates built-in input with pointers the api can prefix', () => {
    const catalogue = createCatalogue(parseConfig({ integrations: { stripe: builtinIntegrationConfig('stripe', 'http://127.0.0.1:1') } }));
    const result = catalogue.get('stripe.createPaymentIntent')!.validateInput({ amount: 0, currency: 'usd', extra: 1 });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.pointer).sort()).toEqual(['', '/amount']);
  });
});
