import { ref } from './components';

/** The parts of OpenAPI 3.1 this document uses. */
export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: Record<string, unknown>[];
  requestBody?: Record<string, unknown>;
  responses: Record<string, Record<string, unknown>>;
}

export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete' | 'patch', Operation>> & { parameters?: Record<string, unknown>[] };

/** `security` values: one entry per alternative. */
type Security = Record<string, string[]>[];
export const AGENT_KEY: Security = [{ agentKey: [] }];
export const ADMIN_TOKEN: Security = [{ adminToken: [] }];
/** The admin token, or an agent key holding the operation's scope. */
export const OPERATOR: Security = [{ adminToken: [] }, { agentKey: [] }];
export const NO_AUTH: Security = [];

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (`INVALID_JSON`, `INVALID_IDEMPOTENCY_KEY`, `INVALID_SIGNATURE`, `BAD_REQUEST`)',
  401: 'Missing or unknown credential (`UNAUTHENTICATED`)',
  403: "Outside the key's scopes (`FORBIDDEN`)",
  404: 'Unknown resource (`NOT_FOUND`, `TOOL_NOT_FOUND`)',
  405: 'Method not supported here (`METHOD_NOT_ALLOWED`)',
  409: "The resource's state forbids it (`CONFLICT`)",
  413: 'Body over the limit (`PAYLOAD_TOO_LARGE`)',
  415: 'Body not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)',
  422: 'Fails validation (`VALIDATION_ERROR` with `errors[].pointer`, `IDEMPOTENCY_KEY_REUSED`)',
  429: "Over the agent's request limit or a daily job cap (`RATE_LIMITED`), with `Retry-After`",
  503: 'Redis cannot be reached (`UNAVAILABLE`), answered within 2 s with `Retry-After`',
};

/** RFC 9457 answers for the given statuses. */
export function problems(...statuses: number[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const status of statuses) {
    out[String(status)] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }
  return out;
}

export function json(description: string, schema: Record<string, unknown>, headers?: Record<string, unknown>): Record<string, unknown> {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

export const pathParam = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema,
});

export const queryParam = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
