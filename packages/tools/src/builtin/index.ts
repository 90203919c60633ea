import type { BuiltinTool } from '../define-tool';
import { githubTools } from './github';
import { hubspotTools } from './hubspot';
import { shopifyTools } from './shopify';
import { stripeTools } from './stripe';

/**
 * Tools written in code, by integration name: the worker's side of
 * builtinDescriptors (builtin/descriptors.ts), each integration's
 * implementations paired with its descriptions by `pairTools`. An
 * integration's built-in tools are offered only when the config file
 * configures that integration (its `baseUrl` and credentials), so the same
 * code runs against a sandbox or a stub.
 */
export const builtinIntegrations: Record<string, readonly BuiltinTool[]> = {
  stripe: stripeTools,
  hubspot: hubspotTools,
  shopify: shopifyTools,
  github: githubTools,
};
