/**
 * The testing kit: stubs that speak each built-in integration's wire format
 * and inject failures, a recorder for real traffic, and a runner for one tool.
 * Usable from your own tests (see docs/testing.md, "Testing your own tools").
 */
export { KitStub, randomId, type Fault, type FaultOptions } from './kit-stub';
export { StripeStub, type StripeStubOptions } from './stripe-stub';
export { HubSpotStub, type HubSpotStubOptions } from './hubspot-stub';
export { ShopifyStub, type ShopifyStubOptions, type ShopifyOrder } from './shopify-stub';
export { SHOPIFY_ADMIN_SDL } from './shopify-schema';
export { queryCost } from './shopify-cost';
export { GitHubStub, type GitHubStubOptions } from './github-stub';
export { RecordingProxy, loadFixture, matchInteraction, type RecordedFixture, type RecordedInteraction } from './recording';
export { parseForm, parseBody } from './form';
export { runTool, verifyTool, builtinIntegrationConfig, KIT_SECRETS, type RunToolOptions } from './run-tool';
