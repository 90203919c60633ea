import { z } from 'zod';
import { deprecationSchema } from './deprecation';

const window = z.object({ max: z.int().positive(), durationMs: z.int().positive() });

/** One entry of `GET /v1/integrations` (docs/integrations.md#integrations-get-v1integrations). */
export const integrationStatusSchema = z.object({
  name: z.string(),
  /** Tool names, sorted. */
  tools: z.array(z.string()),
  apiVersion: z.string().nullable(),
  auth: z.object({ type: z.enum(['none', 'apiKey', 'oauth2']) }),
  /** As configured, or null when the integration has no rate limit. */
  rateLimit: window.extend({ perConnection: window.optional() }).nullable(),
  circuitBreaker: z.object({ state: z.enum(['closed', 'open', 'half_open']) }),
  queue: z.object({ waiting: z.int().min(0), active: z.int().min(0), delayed: z.int().min(0), failed: z.int().min(0) }),
  connections: z.array(z.object({ name: z.string(), state: z.enum(['ok', 'needs_reauth', 'missing']) })),
  /** API versions the upstream said are deprecated or will be retired (docs/operations.md#api-deprecation-watch). */
  deprecations: z.array(deprecationSchema),
});
export type IntegrationStatus = z.infer<typeof integrationStatusSchema>;

/** `GET /v1/integrations`. */
export const listIntegrationsResponseSchema = z.object({ integrations: z.array(integrationStatusSchema) });
export type ListIntegrationsResponse = z.infer<typeof listIntegrationsResponseSchema>;
