import type { Agent as HttpAgent } from 'node:http';
import { fixedFieldsLogger, type IntegrationConfig, type Logger } from '@broker/shared';
import { ToolError } from '../tool-error';
import type { HttpRequest, HttpResponse, IntegrationHttp } from '../types';
import { errorFromResponse, errorFromTransport, malformedBody } from './classify';
import { blankCredentials, credentialForms } from './redact-credentials';
import type { CredentialsProvider } from './credentials';
import type { MtlsAgent } from './mtls-agent';
import { callUrl, sendHttp, TransportError, type TransportResponse } from './transport';
import { upstreamAgents } from './upstream-agents';

export interface CallContext {
  tool: string;
  jobId: string;
  attempt: number;
  connection: string;
  /** Sent on writes when the tool or the API supports idempotency. */
  idempotencyKey?: string;
  /** The tool changes state upstream. */
  write: boolean;
  requestId: string;
  signal?: AbortSignal;
  /** Told about every upstream call as it ends (the worker turns this into metrics; tools know no Prometheus). */
  onCall?: (report: UpstreamCallReport) => void;
  /**
   * Told the status and (lower-cased) headers of each answer the tool gets, so
   * the worker can follow the rate-limit budget the API reports. Must not throw.
   */
  onResponse?: (answer: UpstreamAnswerHeaders) => void;
}

export interface UpstreamAnswerHeaders {
  status: number;
  headers: Readonly<Record<string, string>>;
}

/** One finished upstream call; `status` is undefined when no answer came (timeout, reset, refused). */
export interface UpstreamCallReport {
  integration: string;
  status: number | undefined;
  durationMs: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** An answer with what its request carried: the headers (a 401 tells the credentials provider which were refused) and the credential forms (blanked out of the answer). */
interface Sent extends TransportResponse {
  sentHeaders: Record<string, string>;
  credentials: string[];
}

function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function encodeForm(value: Record<string, unknown>, prefix = '', out = new URLSearchParams()): URLSearchParams {
  // Stripe-style nesting: metadata[key]=value, items[0][price]=...
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (v === undefined || v === null) continue;
    if (typeof v === 'object') encodeForm(v as Record<string, unknown>, name, out);
    else out.append(name, String(v));
  }
  return out;
}

function parseBody(res: { status: number; headers: Record<string, string>; text: string }): unknown {
  const { text } = res;
  if (text.trim() === '') return null;
  const type = String(res.headers['content-type'] ?? '');
  if (!type.includes('json') && !/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedBody(res.status, (err as Error).message);
  }
}

/**
 * The HTTP layer of one integration: base URL, timeout, auth resolved per call,
 * the pinned API version, the upstream idempotency key, classification of
 * every failure into a ToolError, and one log line per upstream call.
 *
 * Transport retries stay small on purpose: one immediate resend of a request
 * that died on a reset connection (a keep-alive socket the server had closed),
 * and only when resending is safe. Retries with backoff are the worker's job.
 */
export class IntegrationClient {
  private readonly agents: { http: HttpAgent; https: HttpAgent };
  /** The per-call lines have fixed fields (no body, no headers): no redaction pass on every call. */
  private readonly callLog: Logger;

  constructor(
    private readonly name: string,
    private readonly integration: IntegrationConfig,
    private readonly credentials: CredentialsProvider,
    logger: Logger,
    /** Presents a client certificate (mTLS); the agent is rebuilt when the PEM secrets change. */
    private readonly tls?: Pick<MtlsAgent, 'agent'>,
    /** The egress proxy for this integration's calls (see upstreamProxy); undefined: direct. */
    proxy?: string,
  ) {
    this.callLog = fixedFieldsLogger(logger);
    this.agents = upstreamAgents(proxy);
  }

  forCall(call: CallContext): IntegrationHttp {
    return { request: (req) => this.request(req, call) };
  }

  private async request<T>(req: HttpRequest, call: CallContext): Promise<HttpResponse<T>> {
    const first = await this.send(req, call, false);
    // A 401 may mean a rotated key or an expired token: read credentials again, once.
    const res = first.status === 401 ? await this.send(req, call, true, lowerCaseHeaders(first.sentHeaders)) : first;
    const { headers } = res;
    call.onResponse?.({ status: res.status, headers });
    // An answer that quotes our credentials back must not carry them into the job (see blankCredentials).
    const text = blankCredentials(res.text, res.credentials);
    if (res.status < 200 || res.status >= 300) {
      throw errorFromResponse({ status: res.status, headers, body: text });
    }
    return { status: res.status, headers, data: parseBody({ status: res.status, headers, text }) as T };
  }

  private async send(req: HttpRequest, call: CallContext, forceRefresh: boolean, rejectedHeaders?: Record<string, string>): Promise<Sent> {
    const auth = await this.credentials.authHeaders(call.connection, { forceRefresh, ...(rejectedHeaders ? { rejectedHeaders } : {}) });
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'agent-request-broker',
      'x-request-id': call.requestId,
      ...req.headers,
      ...auth,
    };
    if (this.integration.apiVersion) headers[this.integration.apiVersion.header] = this.integration.apiVersion.value;
    const writes = req.method !== 'GET';
    if (writes && call.idempotencyKey) headers[this.integration.idempotencyHeader] = call.idempotencyKey;
    let data: string | undefined;
    if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      data = encodeForm(req.form).toString();
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      data = JSON.stringify(req.json);
    }
    const httpsAgent = this.tls ? await this.tls.agent() : undefined;
    const started = performance.now();
    const logFields = {
      tool: call.tool,
      integration: this.name,
      jobId: call.jobId,
      attempt: call.attempt,
      connection: call.connection,
      method: req.method,
      path: req.path,
      requestId: call.requestId,
    };
    try {
      const url = callUrl(this.integration.baseUrl, req.path, req.query);
      const exchange = {
        method: req.method,
        url,
        headers,
        ...(data !== undefined ? { body: data } : {}),
        timeoutMs: this.integration.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        agent: url.protocol === 'https:' ? (httpsAgent ?? this.agents.https) : this.agents.http,
        ...(call.signal ? { signal: call.signal } : {}),
      };
      let res: TransportResponse;
      try {
        res = await sendHttp(exchange);
      } catch (err) {
        // One immediate resend of a request that died on a reset connection (a
        // keep-alive socket the server had just closed), when resending is safe.
        if (!(err instanceof TransportError) || err.code !== 'ECONNRESET' || err.answered) throw err;
        if (!SAFE_METHODS.has(req.method) && !headers[this.integration.idempotencyHeader]) throw err;
        res = await sendHttp(exchange);
      }
      const durationMs = performance.now() - started;
      call.onCall?.({ integration: this.name, status: res.status, durationMs });
      this.callLog.info({ ...logFields, status: res.status, durationMs: Math.round(durationMs) }, 'upstream call');
      return { ...res, sentHeaders: headers, credentials: credentialForms(auth) };
    } catch (err) {
      const code = err instanceof TransportError ? err.code : (err as { code?: string }).code;
      const message = (err as Error).message;
      call.onCall?.({ integration: this.name, status: undefined, durationMs: performance.now() - started });
      this.callLog.warn({ ...logFields, error: code ?? message, durationMs: Math.round(performance.now() - started) }, 'upstream call failed');
      if (err instanceof ToolError) throw err;
      if (code === 'ERR_RESPONSE_TOO_LARGE') {
        throw new ToolError('UNKNOWN', { message: 'upstream response exceeds 10 MiB', cause: err });
      }
      const unsafe = call.write && writes && !headers[this.integration.idempotencyHeader];
      throw errorFromTransport({ ...(code ? { code } : {}), message }, unsafe);
    }
  }
}
