import type { ToolDescription } from '../describe-tool';
import { githubDescriptors } from './github/descriptors';
import { hubspotDescriptors } from './hubspot/descriptors';
import { shopifyDescriptors } from './shopify/descriptors';
import { stripeDescriptors } from './stripe/descriptors';

/**
 * What the built-in tools are, by integration name, without their
 * implementations (builtin/index.ts pairs each with its own). An
 * integration's built-in tools are offered only when the config file
 * configures that integration (its `baseUrl` and credentials).
 */
export const builtinDescriptors: Record<string, readonly ToolDescription[]> = {
  stripe: Object.values(stripeDescriptors),
  hubspot: Object.values(hubspotDescriptors),
  shopify: Object.values(shopifyDescriptors),
  github: Object.values(githubDescriptors),
};
