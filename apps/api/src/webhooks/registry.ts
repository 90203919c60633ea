import type { WebhookSourceConfig } from '@broker/shared/config/schema';
import { githubVerifier } from './github';
import { shopifyVerifier } from './shopify';
import { standardVerifier } from './standard';
import { stripeVerifier } from './stripe';
import type { WebhookVerifier } from './verifier';

/** One verifier per source `type`; the compiler checks every type has one. */
export const verifiers: Readonly<Record<WebhookSourceConfig['type'], WebhookVerifier>> = {
  stripe: stripeVerifier,
  github: githubVerifier,
  shopify: shopifyVerifier,
  standard: standardVerifier,
};
