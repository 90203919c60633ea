import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { vetTarget, type Lookup } from '@broker/shared';

export type DeliveryOutcome =
  /** The receiver answered; nothing else was followed (a 3xx is an answer, not a hop). */
  | { kind: 'answered'; status: number; headers: IncomingHttpHeaders }
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
}

/** Bytes of a receiver's answer read before the socket is dropped; the body is never used. @defaultValue 64 KiB */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Hands the socket the address that was checked, whatever the host name:
 * without it Node would resolve the name a second time when connecting, and
 * a DNS answer that changed in between (rebinding) would slip past the check.
 */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
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
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    const done = (outcome: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const outgoing = send(
      url,
      {
        method: 'POST',
        headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body).toString() },
        lookup: pinnedLookup(address),
        // A fresh connection per delivery: a pooled socket would skip the pinned lookup.
        agent: false,
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('error', () => undefined);
        const answer = () => done({ kind: 'answered', status: res.statusCode ?? 0, headers: res.headers });
        res.on('end', answer);
        res.on('close', answer);
      },
    );
    const timer = setTimeout(() => {
      outgoing.destroy();
      done({ kind: 'unreachable', reason: `no answer within ${req.timeoutMs} ms` });
    }, req.timeoutMs);
    outgoing.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'unreachable', reason: err.code ?? err.message }));
    outgoing.end(req.body);
  });
}
