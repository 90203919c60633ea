import { z } from 'zod';
import { deprecationSchema } from '@broker/shared/integrations/deprecation';
import { rateLimitSchema, type AuthConfig } from '@broker/shared/config/schema';
import type { CircuitState } from '@broker/redis/limits/circuit-state';
import type { ConnectionState } from '@broker/tools/secrets/connection-state';

const circuitStates = ['closed', 'open', 'half_open'] as const satisfies readonly CircuitState[];
const connectionStates = ['ok', 'needs_reauth', 'missing'] as const satisfies readonly ConnectionState[];
const authTypes = ['none', 'apiKey', 'oauth2'] as const satisfies readonly AuthConfig['type'][];

/**
 * `GET /v1/integrations` (docs/integrations.md#integrations-get-v1integrations), for the OpenAPI document. The route
 * builds its answer from live state rather than parsing it, so this schema
 * describes it; its enums are checked against the shared types above.
 */
export const integrationListSchema = z.object({
  integrations: z.array(
    z.object({
      name: z.string(),
      tools: z.array(z.string()),
      apiVersion: z.string().nullable(),
      auth: z.object({ type: z.enum(authTypes) }),
      rateLimit: rateLimitSchema.nullable(),
      circuitBreaker: z.object({ state: z.enum(circuitStates) }),
      queue: z.object({ waiting: z.int().min(0), active: z.int().min(0), delayed: z.int().min(0), failed: z.int().min(0) }),
      connections: z.array(z.object({ name: z.string(), state: z.enum(connectionStates) })),
      /** API versions the upstream said are deprecated or retired (Deprecation, Sunset, providers' notices). */
      deprecations: z.array(deprecationSchema),
    }),
  ),
});
