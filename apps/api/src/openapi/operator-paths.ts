import { AUDIT_SCAN_BUDGET } from '@broker/redis/audit/audit-trail';
import { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE } from '../routes/list-audit';
import { DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE } from '../routes/list-events';
import { DEFAULT_APPROVALS_PAGE, MAX_APPROVALS_PAGE } from '../routes/list-approvals';
import { ref } from './components';
import { ADMIN_TOKEN, json, NO_AUTH, OPERATOR, pathParam, problems, queryParam, type PathItem } from './operation';

const eventId = pathParam('id', "The stored event's id, `<source>:<eventId>` (e.g. `stripe:evt_123`).");
const integration = pathParam('integration', 'An integration with `oauth2` auth.');
const heldJobId = pathParam('id', 'The job id (`job_` + 32 hex digits).', { type: 'string', pattern: '^job_[0-9a-f]{32}$' });

/** approve and deny: the same body, credentials and answers. */
function decisionOperation(verb: 'approve' | 'deny', summary: string, effect: string): PathItem {
  return {
    parameters: [heldJobId],
    post: {
      operationId: `${verb}Job`,
      summary,
      description:
        `Scope \`jobs:approve\` or the admin token. ${effect} Only a job \`awaiting_approval\` whose hold has not expired: ` +
        'any other state is 409 `CONFLICT`. An agent may not decide on its own job (403). The body is optional; ' +
        'the reason and who decided are kept on the job record.',
      tags: ['operators'],
      security: OPERATOR,
      requestBody: { required: false, content: { 'application/json': { schema: ref('ApprovalDecisionRequest') } } },
      responses: { '200': json('The job after the decision', ref('Job')), ...problems(401, 403, 404, 409, 413, 415, 422, 429, 503) },
    },
  };
}

/** Operators (docs/operations.md, docs/webhooks.md#events-api, docs/guardrails.md#audit-trail) and the webhook intake (docs/webhooks.md#what-post-hookssource-answers). */
export const operatorPaths: Record<string, PathItem> = {
  '/v1/events': {
    get: {
      operationId: 'listEvents',
      summary: 'List stored webhook events, newest first',
      description: 'Scope `events:read` or the admin token. Pass `nextCursor` back as `cursor`, with the same filters, for the next page.',
      tags: ['operators'],
      security: OPERATOR,
      parameters: [
        queryParam('source', 'Only this source.'),
        queryParam('type', 'Only this event type.'),
        queryParam('since', 'receivedAt at or after (ISO 8601).', { type: 'string', format: 'date-time' }),
        queryParam('until', 'receivedAt before (ISO 8601).', { type: 'string', format: 'date-time' }),
        queryParam('limit', `Page size (default ${DEFAULT_EVENTS_PAGE}).`, { type: 'integer', minimum: 1, maximum: MAX_EVENTS_PAGE }),
        queryParam('cursor', 'The `nextCursor` of the previous page.'),
      ],
      responses: { '200': json('A page of events', ref('EventList')), ...problems(401, 403, 422, 429, 503) },
    },
  },
  '/v1/events/{id}': {
    parameters: [eventId],
    get: {
      operationId: 'getEvent',
      summary: 'Read a stored event: raw body, headers, timestamps and each trigger delivery',
      tags: ['operators'],
      security: OPERATOR,
      responses: { '200': json('The event', ref('EventDetail')), ...problems(401, 403, 404, 429, 503) },
    },
  },
  '/v1/events/{id}/replay': {
    parameters: [eventId],
    post: {
      operationId: 'replayEvent',
      summary: "Deliver a stored event's triggers again (new deliveries, new webhook-id)",
      description: 'Scope `events:replay` or the admin token.',
      tags: ['operators'],
      security: OPERATOR,
      responses: { '202': json('Deliveries queued', ref('ReplayReceipt')), ...problems(401, 403, 404, 429, 503) },
    },
  },
  '/v1/audit': {
    get: {
      operationId: 'listAudit',
      summary: "The audit trail: every event of every job's life, newest first",
      description:
        'Scope `audit:read` or the admin token. One entry per event — `submitted` (with `inputSha256`), `held`, `approved`, `denied`, ' +
        '`call` (one per upstream request: `status`, `durationMs`, `attempt`), `verified`, `succeeded`, `failed` (with `code`), ' +
        '`cancelled`, `retried` — never an input, a result, a secret, a header or a URL. Kept `retention.auditDays`. ' +
        `Filters are applied while scanning at most ${AUDIT_SCAN_BUDGET} entries per request: a page may hold fewer than \`limit\` ` +
        'entries (even none) while `nextCursor` is set. Pass `nextCursor` back as `cursor`, with the same filters; `null` means nothing older.',
      tags: ['operators'],
      security: OPERATOR,
      parameters: [
        queryParam('agent', "Only this agent's jobs (exact id)."),
        queryParam('tool', 'Only these tools: a name, or a glob where `*` matches any run of characters (`stripe.*`).'),
        queryParam('since', 'Only events at or after this time (ISO 8601).', { type: 'string', format: 'date-time' }),
        queryParam('limit', `Page size (default ${DEFAULT_AUDIT_PAGE}).`, { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE }),
        queryParam('cursor', 'The `nextCursor` of the previous page.'),
      ],
      responses: { '200': json('A page of audit entries', ref('AuditPage')), ...problems(401, 403, 422, 429, 503) },
    },
  },
  '/v1/approvals': {
    get: {
      operationId: 'listApprovals',
      summary: 'Jobs awaiting approval, oldest first',
      description:
        'Scope `jobs:approve` or the admin token. Each job (public shape) with its `agent`, `connection`, the `rule` that held it ' +
        '(its index in `approvals`, `tools`, `when`, `agents`, `timeoutSeconds`), `expiresAt`, and the `input` it would run with. ' +
        'A job whose hold has run out is not listed (the worker fails it `APPROVAL_EXPIRED`).',
      tags: ['operators'],
      security: OPERATOR,
      parameters: [queryParam('limit', `At most this many (default ${DEFAULT_APPROVALS_PAGE}).`, { type: 'integer', minimum: 1, maximum: MAX_APPROVALS_PAGE })],
      responses: { '200': json('The held jobs', ref('ApprovalList')), ...problems(401, 403, 422, 429, 503) },
    },
  },
  '/v1/jobs/{id}/approve': decisionOperation('approve', 'Approve a held job: it is queued and runs now', 'The job moves to `queued` and runs at once.'),
  '/v1/jobs/{id}/deny': decisionOperation(
    'deny',
    'Deny a held job: it fails APPROVAL_DENIED and never runs',
    'The job ends `failed` with `APPROVAL_DENIED`, the reason (when given) in its error message; its callback is sent.',
  ),
  '/v1/integrations': {
    get: {
      operationId: 'listIntegrations',
      summary: 'Integrations with their circuit breaker, queue counts and connection states',
      description: 'Scope `integrations:read` or the admin token.',
      tags: ['operators'],
      security: OPERATOR,
      responses: { '200': json('The integrations', ref('IntegrationList')), ...problems(401, 403, 429, 503) },
    },
  },
  '/v1/integrations/{name}/connections/{connection}/token': {
    parameters: [pathParam('name', 'The integration.'), pathParam('connection', 'The connection (`default` always exists).')],
    put: {
      operationId: 'putConnectionToken',
      summary: "Seed or replace a connection's OAuth tokens",
      description: 'Admin token. Tokens are stored encrypted (AES-256-GCM) and never shown again.',
      tags: ['operators'],
      security: ADMIN_TOKEN,
      requestBody: { required: true, content: { 'application/json': { schema: ref('PutConnectionTokenRequest') } } },
      responses: { '204': { description: 'Stored' }, ...problems(400, 401, 404, 409, 413, 415, 422, 503) },
    },
  },
  '/oauth/{integration}/connect': {
    parameters: [integration],
    get: {
      operationId: 'oauthConnect',
      summary: 'Start the authorization-code flow for a connection (redirects to the provider)',
      tags: ['oauth'],
      security: ADMIN_TOKEN,
      parameters: [queryParam('connection', 'The connection to authorize (default `default`).')],
      responses: { '302': { description: "To the provider's authorization page" }, ...problems(401, 404, 409, 422, 503) },
    },
  },
  '/oauth/{integration}/callback': {
    parameters: [integration],
    get: {
      operationId: 'oauthCallback',
      summary: "The provider's redirect back; the single-use `state` is the proof",
      tags: ['oauth'],
      security: NO_AUTH,
      parameters: [queryParam('state', 'From the connect redirect.'), queryParam('code', 'The authorization code.'), queryParam('error', "The provider's error.")],
      responses: {
        '200': json('Connected', {
          type: 'object',
          required: ['connected', 'integration', 'connection'],
          properties: { connected: { const: true }, integration: { type: 'string' }, connection: { type: 'string' } },
        }),
        ...problems(400, 404, 503),
      },
    },
  },
  '/hooks/{source}': {
    parameters: [pathParam('source', 'A configured webhook source (`webhooks.<source>`).')],
    post: {
      operationId: 'receiveWebhook',
      summary: "Receive a provider's webhook",
      description:
        "Verified on the raw bytes by the source's type: `Stripe-Signature`, `X-Hub-Signature-256`, `X-Shopify-Hmac-Sha256`, " +
        'or Standard Webhooks (`webhook-id`/`webhook-timestamp`/`webhook-signature`). Stored before the answer; a repeat is `duplicate: true`.',
      tags: ['webhooks'],
      security: NO_AUTH,
      requestBody: { required: true, content: { '*/*': { schema: {} } } },
      responses: { '200': json('Stored (or already stored)', ref('WebhookReceipt')), ...problems(400, 404, 413, 503) },
    },
  },
  '/admin/queues': {
    get: {
      operationId: 'bullBoard',
      summary: 'Bull Board: the queues in a browser',
      description: 'HTTP Basic auth, any user name, the admin token as password. Mounted only when `admin` is configured.',
      tags: ['operators'],
      security: [{ adminBasic: [] }],
      responses: { '200': { description: 'The board', content: { 'text/html': { schema: { type: 'string' } } } }, ...problems(401) },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this API process',
      tags: ['operators'],
      security: ADMIN_TOKEN,
      responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...problems(401, 403) },
    },
  },
};
