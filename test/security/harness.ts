import { randomBytes } from 'node:crypto';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { answerProtocolErrors } from '@broker/api';
import { KEYS, portOf, secondApi, startApi, type Harness } from '../api/harness';
import { SECRETS } from '../webhooks/signers';
import { adminToken, NOWHERE_URL, parseLayeredConfig, standardAgents, triggerDelivery, webhookSources } from '../helpers/config';
import { demoCreateOrderTool } from '../helpers/demo-tools';

/*
 * One broker with every surface switched on (tools, an OAuth integration,
 * four webhook sources, triggers, callbacks, admin), for the hostile-input,
 * secrets and access-control suites.
 */

export const ADMIN_TOKEN = `admin-${randomBytes(12).toString('hex')}`;
export const OPS_KEY = `key-ops-${randomBytes(8).toString('hex')}`;
export { KEYS, secondApi };

/** Agents of {@link securityConfig}: a = demo tools, b = demo reads + events:read, c = everything, ops = operator scopes only. */
export const AGENT_KEYS = { a: KEYS.a, b: KEYS.bNew, c: KEYS.c, ops: OPS_KEY };

/** Two quick tries: the suites assert refusals and leaks, not retry timing. */
const QUICK_RETRY = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

/** A GET of one record by its `id`, the shape of both integrations' read tools. */
const getById = (name: string, path: string) => ({ name, method: 'GET', path, input: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } });

export function securityConfig(upstreamUrl = NOWHERE_URL, overrides: Record<string, unknown> = {}): BrokerConfig {
  return parseLayeredConfig(
    {
      agents: [...standardAgents, { id: 'agent-ops', key: { secret: 'OPS_KEY' }, scopes: ['events:read', 'events:replay', 'integrations:read', 'audit:read', 'jobs:approve'] }],
      admin: adminToken,
      integrations: {
        demo: {
          baseUrl: upstreamUrl,
          auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', secret: 'DEMO_API_KEY' },
          retry: QUICK_RETRY,
          connections: { eu: {} },
          tools: [getById('demo.getContact', '/contacts/{id}'), demoCreateOrderTool],
        },
        crm: {
          baseUrl: upstreamUrl,
          auth: {
            type: 'oauth2',
            grant: 'authorization_code',
            tokenUrl: `${upstreamUrl}/oauth/token`,
            authorizeUrl: `${upstreamUrl}/oauth/authorize`,
            clientId: 'broker',
            clientSecret: 'CRM_CLIENT_SECRET',
          },
          retry: QUICK_RETRY,
          connections: { acme: {} },
          tools: [getById('crm.getContact', '/crm/contacts/{id}')],
        },
      },
      webhooks: webhookSources,
      routes: [
        { source: 'stripe', event: '*', trigger: 'stripe_any' },
        { source: 'github', event: '*', trigger: 'github_any' },
        { source: 'shopify', event: '*', trigger: 'shopify_any' },
        { source: 'acme', event: '*', trigger: 'acme_any' },
      ],
      triggerDelivery: triggerDelivery(`${upstreamUrl}/hooks/agent`, { timeoutMs: 2000, retry: QUICK_RETRY }),
      callbacks: { secret: 'CALLBACK_SIGNING_SECRET', allowHosts: ['127.0.0.1'] },
    },
    overrides,
  );
}

/** Every secret value {@link securityConfig} names, fresh per run so a hit cannot come from another test. */
export function securitySecrets(): Record<string, string> {
  const whsec = (label: string) => `whsec_${Buffer.from(`${label}-${randomBytes(12).toString('hex')}`).toString('base64')}`;
  return {
    BROKER_ADMIN_TOKEN: ADMIN_TOKEN,
    OPS_KEY,
    DEMO_API_KEY: `sk_demo_${randomBytes(12).toString('hex')}`,
    CRM_CLIENT_SECRET: `crm-client-secret-${randomBytes(12).toString('hex')}`,
    BROKER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STRIPE_WEBHOOK_SECRET: SECRETS.stripe,
    GITHUB_WEBHOOK_SECRET: SECRETS.github,
    SHOPIFY_WEBHOOK_SECRET: SECRETS.shopify,
    ACME_WEBHOOK_SECRET: SECRETS.standard,
    TRIGGER_SIGNING_SECRET: whsec('trigger'),
    CALLBACK_SIGNING_SECRET: whsec('callback'),
  };
}

export async function startSecurityApi(label: string, config = securityConfig(), extraEnv: Record<string, string> = {}): Promise<Harness> {
  const h = await startApi(label, { config });
  // As main.ts does for the production server.
  answerProtocolErrors(h.server);
  Object.assign(h.env, securitySecrets(), extraEnv);
  return h;
}

/**
 * A fingerprint of everything under the prefix: each key with its type and
 * size, read in one Lua call so that no write can fall between two reads. Any
 * key added or removed, any field, member, entry or byte added, changes it.
 */
const FINGERPRINT = `
local out = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
  local t = redis.call('TYPE', key)['ok']
  local n = 0
  if t == 'string' then n = redis.call('STRLEN', key)
  elseif t == 'hash' then n = redis.call('HLEN', key) .. '/' .. table.concat(redis.call('HKEYS', key), ',')
  elseif t == 'list' then n = redis.call('LLEN', key)
  elseif t == 'set' then n = redis.call('SCARD', key)
  elseif t == 'zset' then n = redis.call('ZCARD', key)
  elseif t == 'stream' then
    -- XLEN alone can stand still under MAXLEN trimming; the last id cannot.
    local info = redis.call('XINFO', 'STREAM', key)
    for i = 1, #info, 2 do if info[i] == 'last-generated-id' then n = redis.call('XLEN', key) .. '/' .. info[i + 1] end end
  end
  out[#out + 1] = key .. '=' .. t .. ':' .. n
end
table.sort(out)
return table.concat(out, '\\n')
`;

export async function keyspaceFingerprint(redis: Redis, prefix: string): Promise<string> {
  return (await redis.eval(FINGERPRINT, 0, `${prefix}:*`)) as string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json: unknown;
}

/**
 * One request over a fresh socket with raw control of what is sent: repeated
 * headers (`headers` as a flat [name, value, name, value…] list, the way
 * Node's `rawHeaders` looks), any bytes as the body, no helpful defaults.
 */
export function rawRequest(
  h: Harness | number,
  options: { method: string; path: string; headers?: string[] | OutgoingHttpHeaders; body?: Buffer | string; timeoutMs?: number },
): Promise<RawResponse> {
  const port = typeof h === 'number' ? h : portOf(h.server);
  let headers = options.headers ?? {};
  if (Array.isArray(headers)) {
    const has = (name: string) => headers instanceof Array && headers.some((v, i) => i % 2 === 0 && v.toLowerCase() === name);
    // A raw list gets no defaults from Node: HTTP/1.1 without Host is refused by Node's parser before the app,
    // and a DELETE body without framing would be read as the next request.
    if (!has('host')) headers = ['host', `127.0.0.1:${port}`, ...headers];
    if (options.body !== undefined && !has('content-length') && !has('transfer-encoding')) headers = [...headers, 'content-length', String(Buffer.byteLength(options.body))];
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method,
        path: options.path,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer to ${options.method} ${options.path} in time`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Is this answer a problem+json body with a code (docs/api.md#api-error-codes)? Returns what is wrong, or undefined. */
export function problemIssue(res: RawResponse): string | undefined {
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) return `content-type ${type || '(none)'}`;
  const body = res.json as Record<string, unknown> | undefined;
  if (!body || typeof body.code !== 'string' || body.status !== res.status || typeof body.type !== 'string' || typeof body.title !== 'string') {
    return `not a problem body: ${res.text.slice(0, 200)}`;
  }
  return undefined;
}

/** Sends bytes as they are over a socket and reads until the server closes or `timeoutMs`; for requests no HTTP client would send. */
export function rawSocket(h: Harness, bytes: Buffer, timeoutMs = 5000): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(portOf(h.server), '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    // Not end(): a half-closed socket makes Node drop a request still being answered. Send Connection: close instead.
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close before reading everything we sent; what it answered is what counts.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), head, body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}
