import { MAX_WAIT_MS } from '../routes/get-job';
import { ref } from './components';
import { AGENT_KEY, json, NO_AUTH, pathParam, problems, queryParam, type PathItem } from './operation';

const jobId = pathParam('id', 'The job id (`job_` + 32 hex digits).', { type: 'string', pattern: '^job_[0-9a-f]{32}$' });

/** The agent API (docs/api.md) and its MCP face (docs/mcp-and-openclaw.md#mcp-mcp). */
export const agentPaths: Record<string, PathItem> = {
  '/v1/tools': {
    get: {
      operationId: 'listTools',
      summary: 'List the tools this key may call',
      description: "Only the tools the key's scopes (`tools:<glob>`) allow, with their JSON Schemas.",
      tags: ['agents'],
      security: AGENT_KEY,
      responses: { '200': json('The tools', ref('ToolList')), ...problems(401, 429, 503) },
    },
  },
  '/v1/jobs': {
    post: {
      operationId: 'submitJob',
      summary: 'Submit a tool call',
      description:
        "Validates the input against the tool's schema, then queues the job and answers at once. " +
        'With `Idempotency-Key`, the same key, tool and input within 24 h returns the same job (200, `Idempotent-Replayed: true`).',
      tags: ['agents'],
      security: AGENT_KEY,
      parameters: [
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: '1–255 printable ASCII characters; one per logical operation.',
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('SubmitJobRequest') } } },
      responses: {
        '202': json('Queued', ref('Job'), { Location: { description: '`/v1/jobs/{id}`', schema: { type: 'string' } } }),
        '200': json('The job an earlier request with this Idempotency-Key created', ref('Job'), {
          'Idempotent-Replayed': { schema: { type: 'string', const: 'true' } },
          Location: { schema: { type: 'string' } },
        }),
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        '403': {
          ...problems(403)['403'],
          description:
            "The tool is outside the key's scopes, or `connection` (default `default`) is outside the agent's `connections` " +
            '(`FORBIDDEN`, `errors[0].pointer` `/connection`); checked before the input is validated, nothing is queued',
        },
        '429': {
          ...problems(429)['429'],
          description:
            "Over the agent's request limit or a daily job cap (`RATE_LIMITED`), or the job's amount would take the agent past a spend cap " +
            "today (`BUDGET_EXCEEDED`: the detail names the cap's tools and max, what is spent so far today and this job's amount; " +
            "`errors[0].pointer` is the cap's `sum` pointer). Nothing is queued; `Retry-After` is the seconds to 00:00 UTC for a cap",
          headers: { 'Retry-After': { description: 'Seconds until trying again may succeed', schema: { type: 'integer', minimum: 1 } } },
        },
      },
    },
  },
  '/v1/jobs/{id}': {
    parameters: [jobId],
    get: {
      operationId: 'getJob',
      summary: 'Read a job, optionally waiting for it to finish',
      tags: ['agents'],
      security: AGENT_KEY,
      parameters: [queryParam('waitMs', 'Hold the answer until the job is terminal or this many ms passed.', { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS })],
      responses: { '200': json('The job', ref('Job')), ...problems(401, 404, 422, 429, 503) },
    },
    delete: {
      operationId: 'cancelJob',
      summary: 'Cancel a queued, deferred or awaiting_approval job',
      tags: ['agents'],
      security: AGENT_KEY,
      responses: { '200': json('Cancelled', ref('Job')), ...problems(401, 404, 409, 429, 503) },
    },
  },
  '/v1/jobs/{id}/retry': {
    parameters: [jobId],
    post: {
      operationId: 'retryJob',
      summary: 'Run a failed job again, as the same job',
      description:
        'A `failed` job whose `error.retryable` is true, or whose `error.code` is `OUTCOME_UNKNOWN`, goes back to `queued` and runs again ' +
        "under the same id, so every try sends the job's own upstream Idempotency-Key; a write without one is looked up by its reference " +
        'first and sent again only if cleanly absent. `attempts` keeps counting; the re-run gets a fresh ' +
        "set of the integration's `retry.attempts` tries. Any other state (queued, running, deferred, succeeded, cancelled, a failed job with " +
        'another non-retryable error), or a second retry racing this one: 409 `CONFLICT`. No request body. ' +
        '(An `Idempotency-Key` replay of the submission keeps answering the same job; it does not run it again.)',
      tags: ['agents'],
      security: AGENT_KEY,
      responses: {
        '202': json('Queued again', ref('Job'), { Location: { description: '`/v1/jobs/{id}`', schema: { type: 'string' } } }),
        ...problems(401, 404, 409, 429, 503),
        '403': {
          ...problems(403)['403'],
          description: "The agent may no longer call the job's tool or use its connection (scopes or `connections` narrowed since): `FORBIDDEN`",
        },
      },
    },
  },
  '/mcp': {
    post: {
      operationId: 'mcp',
      summary: 'Model Context Protocol (Streamable HTTP, stateless)',
      description:
        'JSON-RPC messages of MCP. Each tool the key may call is an MCP tool named with `.` replaced by `_` ' +
        '(e.g. `demo_getContact`), plus `get_job`, `retry_job` and `list_tools`. A call queues a job like `POST /v1/jobs`, waits up to 25 s, ' +
        'and returns the result, a tool error (`isError`) carrying `code`, `retryable`, `retryAt`, or the job id to poll. ' +
        'Send `Accept: application/json, text/event-stream`. GET and DELETE answer 405 (no sessions). ' +
        'With `mcp.authorizationServer`, a JWT access token from that issuer works too (OAuth 2.1; see the protected resource metadata): ' +
        "it acts as the agent its `sub` (or `mcp.agentClaim`) names, with the token's `scope` and the agent's scopes in common. " +
        'A 401 then carries `WWW-Authenticate: Bearer resource_metadata="…"` (and `error="invalid_token"` for a refused token).',
      tags: ['mcp'],
      security: [...AGENT_KEY, { mcpAccessToken: [] }],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { description: 'A JSON-RPC 2.0 request or notification', type: ['object', 'array'] } } },
      },
      responses: {
        '200': {
          description: 'The JSON-RPC answer as an SSE stream (progress notifications first when asked for)',
          content: { 'text/event-stream': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } },
        },
        '202': { description: 'A notification or response was accepted' },
        ...problems(400, 401, 403, 405, 413, 415, 422, 429),
        '406': { description: 'The Accept header does not allow both application/json and text/event-stream' },
        '503': {
          ...problems(503)['503'],
          description: "Redis cannot be reached, or the authorization server's keys cannot be read to check an access token (`UNAVAILABLE`), with `Retry-After`",
        },
      },
    },
  },
  ...protectedResourceMetadataPaths(),
};

/** RFC 9728 metadata of `/mcp`, at the root and at the path-suffixed location (§3.1). */
function protectedResourceMetadataPaths(): Record<string, PathItem> {
  const metadata = {
    type: 'object',
    required: ['resource', 'authorization_servers', 'bearer_methods_supported'],
    properties: {
      resource: { type: 'string', description: 'The MCP URL: `BROKER_PUBLIC_URL` + `/mcp`, else worked out from the request' },
      authorization_servers: { type: 'array', items: { type: 'string' }, description: '`mcp.authorizationServer.issuer`' },
      bearer_methods_supported: { type: 'array', items: { const: 'header' } },
      scopes_supported: { type: 'array', items: { type: 'string' }, description: 'Every scope some agent holds' },
      resource_name: { type: 'string' },
    },
  };
  const operation = (operationId: string) => ({
    get: {
      operationId,
      summary: 'OAuth 2.0 protected resource metadata of /mcp (RFC 9728)',
      description: 'Names the authorization server whose access tokens `/mcp` accepts. 404 without `mcp.authorizationServer`. Readable cross-origin.',
      tags: ['mcp'],
      security: NO_AUTH,
      responses: { '200': json('The metadata', metadata), ...problems(404) },
    },
  });
  return {
    '/.well-known/oauth-protected-resource': operation('protectedResourceMetadata'),
    '/.well-known/oauth-protected-resource/mcp': operation('mcpProtectedResourceMetadata'),
  };
}
