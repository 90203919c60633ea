import { setMaxListeners } from 'node:events';
import type { Agent } from 'node:http';
import { AxiosHeaders, isAxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { fixedFieldsLogger, type Logger } from '@broker/shared/logger';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import { asToolError, ToolError } from '../tool-error';
import type { HttpRequest, HttpResponse, IntegrationHttp } from '../types';
import { errorFromResponse, errorFromTransport, malformedBody } from './classify';
import type { CredentialsProvider } from './credentials';
import { createHttpClient } from './http-client';
import type { MtlsAgent } from './mtls-agent';
import { blankCredentials, credentialForms } from './redact-credentials';
import { RequestState, type CallContext } from './call-context';
import { neverReached, resendInsideTry } from './resend';
import type { EgressProxy } from './upstream-agents';

export type { AdmittedRequest, CallContext, UpstreamAnswerHeaders, UpstreamCallReport } from './call-context';

/** Requests starting within this long share one deadline signal (see IntegrationClient.deadline). @defaultValue 50 */
export const DEADLINE_BUCKET_MS = 50;

/** Credential sets whose forms are remembered (connections × rotations). @defaultValue 64 */
const MAX_REMEMBERED_CREDENTIALS = 64;

function flatHeaders(headers: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
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

function parseBody(status: number, headers: Record<string, string>, text: string): unknown {
  if (text.trim() === '') return null;
  const type = headers['content-type'] ?? '';
  if (!type.includes('json') && !/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedBody(status, (err as Error).message);
  }
}

/** A failure before anything was sent keeps its meaning but says so (the breaker ignores it, a write may be retried). */
function beforeSending(err: unknown): never {
  const error = asToolError(err);
  if (error.stage !== undefined) throw error;
  throw new ToolError(error.code, {
    message: error.message,
    retryable: error.retryable,
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    stage: 'prepare',
    cause: err,
  });
}

/**
 * The HTTP layer of one integration, on one axios instance: base URL, a
 * deadline for each exchange, auth resolved per request, the pinned API
 * version, the upstream idempotency key, admission by the call gate right
 * before each request is written, classification of every failure into a
 * ToolError, and one log line per upstream call.
 *
 * Resends inside one try are axios-retry's (see resend.ts): after a 401 with
 * credentials read again, and after a failure that proves nothing was sent.
 * Each resend passes the request interceptor again, so it is admitted by the
 * gate and counted like any call. Retries with backoff are the worker's.
 */
export class IntegrationClient {
  private readonly http: AxiosInstance;
  /** The per-call lines have fixed fields (no body, no headers): no redaction pass on every call. */
  private readonly callLog: Logger;
  private readonly forms = new Map<string, string[]>();
  private deadlines: { until: number; signal: AbortSignal } | undefined;

  constructor(
    private readonly name: string,
    private readonly integration: IntegrationConfig,
    private readonly credentials: CredentialsProvider,
    logger: Logger,
    /** Presents a client certificate (mTLS); the agent is rebuilt when the PEM secrets change. */
    private readonly tls?: Pick<MtlsAgent, 'agent'>,
    /** The egress proxy settings; NO_PROXY is matched against the base URL once. */
    proxy?: EgressProxy,
  ) {
    this.callLog = fixedFieldsLogger(logger);
    this.http = createHttpClient({
      baseURL: integration.baseUrl,
      proxy,
      // A 401 goes through axios-retry's error path (credentials read again); every other status is classified here.
      validateStatus: (status) => status !== 401,
    });
    // No interceptors of ours: the first send is prepared before axios is called,
    // a resend in axios-retry's (awaited) onRetry, each exactly once.
    resendInsideTry(this.http, async (state, failed, config) => {
      this.ended(state, failed.response?.status, failed.code);
      await this.prepare(config, state);
    });
  }

  forCall(call: CallContext): IntegrationHttp {
    return { request: (req) => this.request(req, call) };
  }

  private async request<T>(req: HttpRequest, call: CallContext): Promise<HttpResponse<T>> {
    const writeWithoutKey = call.write && req.method !== 'GET' && !call.idempotencyKey;
    const state = new RequestState(call, req.method, req.path, writeWithoutKey);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'agent-request-broker',
      'x-request-id': call.requestId,
      ...req.headers,
    };
    if (this.integration.apiVersion) headers[this.integration.apiVersion.header] = this.integration.apiVersion.value;
    if (req.method !== 'GET' && call.idempotencyKey) headers[this.integration.idempotencyHeader] = call.idempotencyKey;
    let data: string | undefined;
    if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      data = encodeForm(req.form).toString();
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      data = JSON.stringify(req.json);
    }
    const config: AxiosRequestConfig = {
      method: req.method,
      url: req.path,
      ...(req.query ? { params: req.query } : {}),
      headers,
      ...(data !== undefined ? { data } : {}),
      broker: state,
    };
    await this.prepare(config, state);
    let res: AxiosResponse<string>;
    try {
      res = await this.http.request<string>(config);
    } catch (err) {
      // A resend's own failure before sending (credentials, the gate) was reported already.
      if (isAxiosError(err)) this.ended(state, err.response?.status, err.code);
      throw this.failure(err, state);
    }
    this.ended(state, res.status);
    return this.answer<T>(res.status, flatHeaders(res.headers), res.data, state);
  }

  /** Runs before every request, resends included: credentials, client certificate, admission, deadline. */
  private async prepare(config: AxiosRequestConfig, state: RequestState): Promise<void> {
    const { call } = state;
    let auth: Record<string, string>;
    let httpsAgent: Agent | undefined;
    try {
      auth = await this.credentials.authHeaders(call.connection, {
        forceRefresh: state.refreshed,
        ...(state.rejectedHeaders ? { rejectedHeaders: state.rejectedHeaders } : {}),
      });
      httpsAgent = this.tls ? await this.tls.agent() : undefined;
    } catch (err) {
      beforeSending(err);
    }
    const headers = config.headers!;
    for (const [name, value] of Object.entries(auth)) {
      if (headers instanceof AxiosHeaders) headers.set(name, value);
      else (headers as Record<string, string>)[name] = value;
    }
    if (httpsAgent) config.httpsAgent = httpsAgent;
    state.sentHeaders = Object.fromEntries(Object.entries(auth).map(([name, value]) => [name.toLowerCase(), value]));
    state.credentials = this.formsOf(auth);
    // Admitted last, after every wait above: the window counts the call from when it is written.
    state.admitted = call.admit ? await call.admit() : undefined;
    config.signal = this.deadline(state);
    state.startedAt = performance.now();
  }

  /** The credential forms of an auth header set, kept while the credentials stay the same (rotations are rare). */
  private formsOf(auth: Record<string, string>): string[] {
    const key = Object.values(auth).join('\0');
    let forms = this.forms.get(key);
    if (!forms) {
      if (this.forms.size >= MAX_REMEMBERED_CREDENTIALS) this.forms.clear();
      forms = credentialForms(auth);
      this.forms.set(key, forms);
    }
    return forms;
  }

  /**
   * A deadline for the whole exchange (axios' own `timeout` is an idle timer
   * on the socket). Requests that start within the same
   * {@link DEADLINE_BUCKET_MS} share one timed signal, so each gets between
   * `timeoutMs` and `timeoutMs` + the bucket: an AbortController and a timer
   * of its own per request cost about a fifth of the request's CPU.
   */
  private deadline(state: RequestState): AbortSignal {
    const now = performance.now();
    if (!this.deadlines || now >= this.deadlines.until) {
      const signal = AbortSignal.timeout(this.integration.timeoutMs + DEADLINE_BUCKET_MS);
      // Every request of the bucket listens to it (axios removes its listener when done): no leak to warn about.
      setMaxListeners(0, signal);
      this.deadlines = { until: now + DEADLINE_BUCKET_MS, signal };
    }
    state.deadline = this.deadlines.signal;
    const trySignal = state.call.signal;
    return trySignal ? AbortSignal.any([trySignal, state.deadline]) : state.deadline;
  }

  /** Each call, resends included: re-times its window entry, reports it and logs one line. */
  private ended(state: RequestState | undefined, status: number | undefined, errorCode?: string): void {
    if (!state?.startedAt) return;
    const durationMs = performance.now() - state.startedAt;
    state.startedAt = undefined;
    state.admitted?.answered();
    state.admitted = undefined;
    const { call } = state;
    const failure = status === undefined ? (errorCode === 'ERR_CANCELED' && this.timedOut(state) ? 'ETIMEDOUT' : (errorCode ?? 'ERR_NETWORK')) : undefined;
    call.onCall?.(failure === undefined ? { integration: this.name, status, durationMs } : { integration: this.name, status, durationMs, failure });
    const fields = {
      tool: call.tool,
      integration: this.name,
      jobId: call.jobId,
      attempt: call.attempt,
      connection: call.connection,
      method: state.method,
      path: state.path,
      requestId: call.requestId,
      durationMs: Math.round(durationMs),
    };
    if (status !== undefined) this.callLog.info({ ...fields, status }, 'upstream call');
    else this.callLog.warn({ ...fields, error: failure }, 'upstream call failed');
  }

  private timedOut(state: RequestState): boolean {
    return state.deadline?.aborted === true && state.call.signal?.aborted !== true;
  }

  private answer<T>(status: number, headers: Record<string, string>, body: string, state: RequestState): HttpResponse<T> {
    state.call.onResponse?.({ status, headers });
    // An answer that quotes our credentials back must not carry them into the job (see blankCredentials).
    const text = blankCredentials(body ?? '', state.credentials);
    if (status < 200 || status >= 300) throw errorFromResponse({ status, headers, body: text }, Date.now(), state.writeWithoutKey);
    return { status, headers, data: parseBody(status, headers, text) as T };
  }

  private failure(err: unknown, state: RequestState): ToolError {
    if (!isAxiosError<string>(err)) return asToolError(err);
    const axiosError = err;
    // The 401 that is left after the credentials were read again.
    if (axiosError.response) {
      try {
        this.answer(axiosError.response.status, flatHeaders(axiosError.response.headers), axiosError.response.data, state);
      } catch (classified) {
        return classified as ToolError;
      }
    }
    if (axiosError.code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(axiosError.message)) {
      return new ToolError('UNKNOWN', { message: 'upstream response exceeds 10 MiB', cause: err });
    }
    const cancelled = axiosError.code === 'ERR_CANCELED';
    const code = cancelled ? (this.timedOut(state) ? 'ETIMEDOUT' : 'ECONNABORTED') : (axiosError.code ?? 'ERR_NETWORK');
    const message = code === 'ETIMEDOUT' ? `timeout of ${this.integration.timeoutMs}ms exceeded` : axiosError.message;
    return errorFromTransport({ code, message, stage: neverReached(axiosError, state) ? 'connect' : 'exchange', writeWithoutKey: state.writeWithoutKey });
  }
}
