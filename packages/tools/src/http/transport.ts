import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';

/**
 * One HTTP exchange on Node's own client: the request, a deadline for the
 * whole exchange, a cap on the answer's size, and the answer as text.
 *
 * Why not axios: on a fast upstream its per-call work (config merging,
 * interceptors, header normalisation, stream plumbing) cost ~250 µs of CPU
 * per call, more than the rest of a job's processing; this is the part of it
 * an integration call needs, with the same error codes (a socket's own,
 * `ETIMEDOUT`, `ECONNABORTED`).
 */

export interface TransportRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, from sending to the answer's last byte. */
  timeoutMs: number;
  /** Answers larger than this (decompressed) fail with `ERR_RESPONSE_TOO_LARGE`. */
  maxBytes: number;
  agent: HttpAgent | HttpsAgent;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  text: string;
}

/** A failed exchange: `code` is the socket's (`ECONNRESET`, `ECONNREFUSED`, TLS codes) or one of ours. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
    /** An answer had begun (a status line arrived) before the failure. */
    readonly answered = false,
  ) {
    super(message);
  }
}

/** What we accept: the encodings Node can undo without a dependency. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

function decoded(res: IncomingMessage): Readable {
  switch ((res.headers['content-encoding'] ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return res.pipe(createGunzip());
    case 'deflate':
      return res.pipe(createInflate());
    case 'br':
      return res.pipe(createBrotliDecompress());
    default:
      return res;
  }
}

function flatHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function sendHttp(req: TransportRequest): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let done = false;
    const finish = (err: TransportError | undefined, res?: TransportResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) {
        outgoing.destroy();
        reject(err);
      } else resolve(res!);
    };
    const onAbort = () => finish(new TransportError('ECONNABORTED', 'the call was cancelled', answered));
    const timer = setTimeout(
      () => finish(new TransportError('ETIMEDOUT', `timeout of ${req.timeoutMs}ms exceeded`, answered)),
      req.timeoutMs,
    );

    const headers: Record<string, string | number> = { ...req.headers, 'accept-encoding': ACCEPT_ENCODING };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const outgoing = (req.url.protocol === 'https:' ? httpsRequest : httpRequest)(req.url, { method: req.method, headers, agent: req.agent });

    outgoing.on('error', (err: NodeJS.ErrnoException) => finish(new TransportError(err.code ?? 'ERR_NETWORK', err.message, answered)));
    outgoing.on('response', (res) => {
      answered = true;
      const body = decoded(res);
      const chunks: Buffer[] = [];
      let bytes = 0;
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > req.maxBytes) {
          finish(new TransportError('ERR_RESPONSE_TOO_LARGE', `the answer exceeds ${req.maxBytes} bytes`, true));
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      body.on('error', (err: NodeJS.ErrnoException) => finish(new TransportError(err.code ?? 'ERR_BAD_RESPONSE', err.message, true)));
      // The connection closed before the answer's last byte (a piped
      // decompressor does not pass the answer's own errors on).
      res.on('error', () => undefined);
      res.on('close', () => {
        if (!res.complete) finish(new TransportError('ECONNRESET', 'the connection closed before the answer ended', true));
      });
      body.on('end', () =>
        finish(undefined, { status: res.statusCode ?? 0, headers: flatHeaders(res.headers), text: Buffer.concat(chunks, bytes).toString('utf8') }),
      );
    });

    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.end(req.body);
  });
}

/**
 * A query string as axios wrote it, so upstreams see the same URLs as before:
 * `undefined`/`null` skipped, arrays as `key[]=a&key[]=b`, nested objects as
 * `key[sub]=v` (brackets percent-encoded), dates in ISO form, `: $ ,` left
 * readable and spaces as `+`.
 */
export function encodeQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  const encode = (s: string) =>
    encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%20/g, '+');
  const scalar = (v: unknown): string => (v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const add = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== undefined && item !== null) parts.push(`${encode(`${key}[]`)}=${encode(scalar(item))}`);
    } else if (typeof value === 'object' && !(value instanceof Date)) {
      for (const [k, v] of Object.entries(value)) add(`${key}[${k}]`, v);
    } else parts.push(`${encode(key)}=${encode(scalar(value))}`);
  };
  for (const [k, v] of Object.entries(query)) add(k, v);
  return parts.join('&');
}

/** `base` + `path` (+ query) the way axios joined a baseURL and a relative url. */
export function callUrl(base: string, path: string, query: Record<string, unknown> | undefined): URL {
  const joined = path ? `${base.replace(/\/?\/$/, '')}/${path.replace(/^\/+/, '')}` : base;
  const qs = encodeQuery(query);
  return new URL(qs ? `${joined}${joined.includes('?') ? '&' : '?'}${qs}` : joined);
}
