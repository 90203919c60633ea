import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { vetTarget, type Lookup } from '@broker/shared/net/ip-policy';
import { createHttpClient } from '@broker/tools';
import { readHead } from '../triggers/answer-excerpt';

export type DeliveryOutcome =
  /**
   * The receiver answered; nothing else was followed (a 3xx is an answer, not
   * a hop). `body`: the first `keepAnswerBytes` of the answer's body.
   */
  | { kind: 'answered'; status: number; headers: IncomingHttpHeaders; body?: Buffer }
  /** The URL points somewhere callbacks may not go (SSRF guard): never retried. */
  | { kind: 'refused'; reason: string }
  /** No answer: DNS failure, refused or reset connection, timeout. Worth a retry. */
  | { kind: 'unreachable'; reason: string };

export interface DeliveryRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  allowHosts: readonly string[];
  timeoutMs: number;
  /** @defaultValue the system resolver (tests inject one) */
  lookup?: Lookup;
  /** Bytes of the answer's body to hand back (a failing answer's start goes to `lastError`). @defaultValue 0 */
  keepAnswerBytes?: number;
}

/** Bytes of a receiver's answer read before the socket is dropped; beyond `keepAnswerBytes` they are only drained. @defaultValue 64 KiB */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * One client for every delivery. Fresh connections, direct: each request
 * connects to the address its own `lookup` pins, which a pooled socket would
 * skip and a proxy would resolve again. No redirects (the factory's default):
 * a 3xx is an answer, since its target was never checked.
 */
const http = createHttpClient({ freshConnections: true, maxBytes: MAX_ANSWER_BYTES });

/**
 * Hands the socket the address that was checked, whatever the host name:
 * without it Node would resolve the name a second time when connecting, and
 * a DNS answer that changed in between (rebinding) would slip past the check.
 */
function pinnedLookup(address: string) {
  const family = isIP(address) === 6 ? 6 : 4;
  // axios answers Node's `all: true` lookups from this single address itself.
  return (_hostname: string, _options: object, callback: (err: Error | null, address: string, family: 4 | 6) => void) => callback(null, address, family);
}

/**
 * One POST to a callback URL, checked against the SSRF policy at the moment
 * of delivery (the api checked it at submission, but DNS may have changed):
 * the host is resolved once, every address must be public unless the host is
 * in `allowHosts`, and the connection goes to the address that was checked.
 * Redirects are never followed: a 3xx comes back as the answer.
 */
export async function deliver(req: DeliveryRequest): Promise<DeliveryOutcome> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { kind: 'refused', reason: 'not an absolute URL' };
  }
  const verdict = await vetTarget(url, {
    allowHosts: req.allowHosts,
    resolveAllowed: true,
    ...(req.lookup ? { lookup: req.lookup } : {}),
  });
  if (!verdict.ok) {
    return /could not be resolved/.test(verdict.reason) ? { kind: 'unreachable', reason: verdict.reason } : { kind: 'refused', reason: verdict.reason };
  }
  const address = verdict.addresses[0]!;
  const signal = AbortSignal.timeout(req.timeoutMs);
  const noAnswer: DeliveryOutcome = { kind: 'unreachable', reason: `no answer within ${req.timeoutMs} ms` };

  let res: { status: number; headers: Record<string, unknown>; data: Readable };
  try {
    // Bytes, not a string: axios would re-serialize a JSON string, and the signature covers these exact bytes.
    res = await http.post<Readable>(url.href, Buffer.from(req.body), {
      headers: req.headers,
      lookup: pinnedLookup(address),
      // The body is only drained (up to the cap): a stream lets the status stand even when the answer is too long.
      responseType: 'stream',
      signal,
    });
  } catch (err) {
    if (signal.aborted) return noAnswer;
    const e = err as { code?: string; message: string };
    return { kind: 'unreachable', reason: e.code ?? e.message };
  }
  const head = readHead(res.data, req.keepAnswerBytes ?? 0);
  // Read to the end, or the cap (the factory's stream ends in an error there), so the receiver finishes cleanly.
  const finished = await new Promise<boolean>((resolve) => {
    const done = () => resolve(!signal.aborted);
    res.data.on('error', done);
    res.data.on('end', done);
    res.data.on('close', done);
    res.data.resume();
  });
  if (!finished) return noAnswer;
  return { kind: 'answered', status: res.status, headers: incomingHeaders(res.headers), body: await head };
}

/** The answer's headers as Node gives them (lower-case names; set-cookie a list). */
function incomingHeaders(headers: Record<string, unknown>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string' || Array.isArray(value)) out[name.toLowerCase()] = value as string & string[];
  }
  return out;
}
