import type { AuthConfig } from '@broker/shared/config/schema';
import { builtinDescriptors } from '../builtin/descriptors';

/** The header an `apiKey` credential is sent in, and what goes before the key. */
export interface ApiKeyHeader {
  header: string;
  prefix: string;
}

type ApiKeyAuth = Extract<AuthConfig, { type: 'apiKey' }>;

/** A declared integration has no native form: the key goes bare in `Authorization`, the default existing configs were written against. */
const DECLARED: ApiKeyHeader = { header: 'Authorization', prefix: '' };

/**
 * Stripe secret keys, HubSpot private-app tokens and GitHub tokens are all
 * sent as `Authorization: Bearer <key>` (GitHub also takes `token <key>`, but
 * documents Bearer, the only form it accepts for every token kind).
 */
const BEARER: ApiKeyHeader = { header: 'Authorization', prefix: 'Bearer ' };

/** Built-ins whose API does not take a Bearer token. */
const NOT_BEARER: Readonly<Record<string, ApiKeyHeader>> = {
  // The Admin API reads the token, with no scheme, from its own header (shopify.dev/docs/api/usage/authentication).
  shopify: { header: 'X-Shopify-Access-Token', prefix: '' },
};

/** What an integration sends when its `apiKey` auth writes neither `header` nor `prefix`. */
export function nativeApiKeyHeader(integrationName: string): ApiKeyHeader {
  // Built-in is decided as the catalogue decides it: the integration's name is a key of builtinDescriptors.
  if (!Object.hasOwn(builtinDescriptors, integrationName)) return DECLARED;
  return NOT_BEARER[integrationName] ?? BEARER;
}

/**
 * The effective header and prefix of an `apiKey` credential (docs/integrations.md#built-in-integrations): each
 * of `header`/`prefix` written in the file wins on its own; one left out takes
 * the integration's native value.
 */
export function apiKeyHeader(integrationName: string, auth: Pick<ApiKeyAuth, 'header' | 'prefix'>): ApiKeyHeader {
  const native = nativeApiKeyHeader(integrationName);
  return { header: auth.header ?? native.header, prefix: auth.prefix ?? native.prefix };
}
