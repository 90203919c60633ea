import type { ToolErrorCode } from '@broker/shared/errors/codes';
import { ToolError } from '../tool-error';
import { parseRetryAfter } from './retry-after';

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as text, for the message (truncated). */
  body: string;
}

/** The classification table (docs/api.md#tool-error-codes-in-joberrorcode), one row per status. */
const BY_STATUS: Record<number, { code: ToolErrorCode; retryable: boolean }> = {
  400: { code: 'VALIDATION_ERROR', retryable: false },
  401: { code: 'AUTHENTICATION_FAILED', retryable: false },
  403: { code: 'PERMISSION_DENIED', retryable: false },
  404: { code: 'NOT_FOUND', retryable: false },
  409: { code: 'CONFLICT', retryable: false },
  422: { code: 'VALIDATION_ERROR', retryable: false },
  429: { code: 'RATE_LIMITED', retryable: true },
  500: { code: 'UPSTREAM_ERROR', retryable: true },
  502: { code: 'UPSTREAM_ERROR', retryable: true },
  503: { code: 'UPSTREAM_ERROR', retryable: true },
  504: { code: 'UPSTREAM_ERROR', retryable: true },
};

const MESSAGE_BODY_LIMIT = 300;

function upstreamDetail(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  return `: ${text.length > MESSAGE_BODY_LIMIT ? `${text.slice(0, MESSAGE_BODY_LIMIT)}…` : text}`;
}

function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['request-id'] ?? headers['x-request-id'] ?? headers['x-github-request-id'];
}

/**
 * Maps a non-2xx upstream answer to a typed tool error, keeping the raw facts
 * (status, Retry-After, request id). Statuses outside the table are UNKNOWN:
 * retrying something we do not understand is how duplicates happen.
 */
export function errorFromResponse(answer: UpstreamAnswer, now: number = Date.now(), writeWithoutKey = false): ToolError {
  const row = BY_STATUS[answer.status] ?? { code: 'UNKNOWN' as const, retryable: false };
  const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], now);
  const options = {
    message: `upstream answered ${answer.status}${upstreamDetail(answer.body)}`,
    retryable: row.retryable,
    upstreamStatus: answer.status,
    writeWithoutKey,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(requestIdOf(answer.headers) ? { requestId: requestIdOf(answer.headers) } : {}),
  };
  return new ToolError(row.code, options);
}

/** Failures that happen before a request leaves this host: the upstream never saw it. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL']);
const TIMED_OUT = new Set(['ECONNABORTED', 'ETIMEDOUT']);
/**
 * The TLS handshake failed, so no request was processed, and trying again with
 * the same certificates cannot succeed: the upstream refused our client
 * certificate (a TLS alert such as `certificate_required`, `bad_certificate`,
 * `unknown_ca`), or we could not verify the upstream's certificate.
 */
const TLS_ALERT = /^ERR_SSL_.*ALERT/;
const UNTRUSTED_SERVER = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export interface TransportFailure {
  code?: string;
  message: string;
  /** How far the request got: `connect` (never reached the upstream) or `exchange` (sent; it may have acted). */
  stage: 'connect' | 'exchange';
  /** The request was a write sent without an idempotency key (a fact for the retry decision). */
  writeWithoutKey: boolean;
}

/**
 * Maps a transport failure (no HTTP answer) to a typed error that keeps how
 * far the request got. Whether a failure after sending may be retried is not
 * decided here: the worker's retry decision reads `stage` and `writeWithoutKey`.
 */
export function errorFromTransport(err: TransportFailure): ToolError {
  const code = err.code ?? 'UNKNOWN';
  const facts = { writeWithoutKey: err.writeWithoutKey, cause: err };
  if (TLS_ALERT.test(code)) {
    return new ToolError('AUTHENTICATION_FAILED', {
      message: `the upstream refused the TLS handshake (${code}): check the integration's mtls certificate`,
      retryable: false,
      stage: 'connect',
      ...facts,
    });
  }
  if (UNTRUSTED_SERVER.has(code)) {
    return new ToolError('UPSTREAM_ERROR', {
      message: `the upstream's TLS certificate is not trusted (${code}): check its certificate or the mtls ca`,
      retryable: false,
      stage: 'connect',
      ...facts,
    });
  }
  if (err.stage === 'connect' || NOT_SENT_CODES.has(code)) {
    return new ToolError('UPSTREAM_ERROR', { message: `network error before sending: ${code}`, retryable: true, stage: 'connect', ...facts });
  }
  if (TIMED_OUT.has(code)) return new ToolError('TIMEOUT', { message: `upstream did not answer in time (${err.message})`, stage: 'exchange', ...facts });
  return new ToolError('UPSTREAM_ERROR', { message: `network error: ${code}`, retryable: true, stage: 'exchange', ...facts });
}

/** A 2xx whose body is not the JSON it claims to be. */
export function malformedBody(status: number, reason: string): ToolError {
  return new ToolError('UNKNOWN', { message: `upstream answered ${status} with a malformed body: ${reason}`, upstreamStatus: status });
}
