import { parseConfig } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { demoCreateOrderTool, demoGetContactTool } from './demo-tools';

/*
 * The broker configs of the test harnesses, built one way: the pieces they
 * share, named once here, and one merge. Secret names (AGENT_A_KEY,
 * BROKER_ADMIN_TOKEN…) are what each harness fills in its env.
 */

/** Config sections as written, before parseConfig validates them and fills in the defaults. */
type RawConfig = Record<string, unknown>;

/** The pieces below are shared by every test of a jest worker: frozen, so a test that edits its config cannot change another's. */
function deepFrozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFrozen);
    Object.freeze(value);
  }
  return value;
}

/** Port 9 (discard) on loopback: nothing listens, for an upstream or a receiver the test never reaches. */
export const NOWHERE_URL = 'http://127.0.0.1:9';

/** a = the demo tools, b = demo reads + events:read, c = every tool; test/api/harness holds their keys. */
export const standardAgents = deepFrozen([
  { id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:demo.*'] },
  { id: 'agent-b', key: { secret: 'AGENT_B_KEY' }, scopes: ['tools:demo.get*', 'events:read'] },
  { id: 'agent-c', key: { secret: 'AGENT_C_KEY' }, scopes: ['tools:*'] },
] as const);

export const adminToken = deepFrozen({ token: { secret: 'BROKER_ADMIN_TOKEN' } } as const);

/** One source per provider type, under the secret names whose values test/webhooks/signers signs with. */
export const webhookSources = deepFrozen({
  stripe: { type: 'stripe', secret: 'STRIPE_WEBHOOK_SECRET' },
  github: { type: 'github', secret: 'GITHUB_WEBHOOK_SECRET' },
  shopify: { type: 'shopify', secret: 'SHOPIFY_WEBHOOK_SECRET' },
  acme: { type: 'standard', secret: 'ACME_WEBHOOK_SECRET' },
} as const);

/** Triggers delivered to `url`, signed with the TRIGGER_SIGNING_SECRET secret; `settings` adds timeoutMs, retry… */
export function triggerDelivery(url: string, settings: RawConfig = {}): RawConfig {
  return { url, secret: 'TRIGGER_SIGNING_SECRET', ...settings };
}

/** The contract's example integration: demo.getContact and demo.createOrder, with an `eu` connection. */
export function demoIntegration(baseUrl: string, settings: RawConfig = {}): RawConfig {
  return { baseUrl, connections: { eu: {} }, tools: [demoGetContactTool, demoCreateOrderTool], ...settings };
}

/** A tool outside `demo`, so that a scope on demo.* can be seen to stop at the integration. */
export function otherIntegration(baseUrl: string, settings: RawConfig = {}): RawConfig {
  return { baseUrl, ...settings, tools: [{ name: 'other.ping', method: 'GET', path: '/ping' }] };
}

/** The api tests' config, which the others build on: the standard agents, demo and other, and callbacks. */
export const apiTestConfig: RawConfig = deepFrozen({
  agents: standardAgents,
  // Nothing listens here: the api never calls an integration.
  integrations: { demo: demoIntegration(NOWHERE_URL, { retry: { attempts: 3 } }), other: otherIntegration(NOWHERE_URL) },
  callbacks: { secret: 'CALLBACK_SECRET', allowHosts: ['callbacks.test'] },
});

/** `layers` merged in order: a top-level section of a later layer replaces the earlier one whole, as a test's overrides always have. */
export function layeredConfig(...layers: Array<RawConfig | undefined>): RawConfig {
  return layers.reduce<RawConfig>((config, layer) => ({ ...config, ...layer }), {});
}

/** {@link layeredConfig}, validated and with its defaults, as the api and worker take it. */
export function parseLayeredConfig(...layers: Array<RawConfig | undefined>): BrokerConfig {
  return parseConfig(layeredConfig(...layers));
}
