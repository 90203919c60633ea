import type { Readable } from 'node:stream';
import { BLANKED, quotedForms } from '@broker/tools';

/**
 * Bytes of a failing answer's body kept in a delivery's `lastError` (docs/webhooks.md#trigger-delivery):
 * enough for a receiver's error message, never its whole page.
 * @defaultValue 500
 */
export const ANSWER_EXCERPT_BYTES = 500;

/** Shorter values are not searched for: blanking "abc" everywhere would mangle the answer and protect nothing (as the tools' HTTP layer does). */
const MIN_SECRET_LENGTH = 8;

/** Forms by the secret values they were made from: a delivery or a callback asks for the same few secrets again and again. */
const formsByValues = new Map<string, string[]>();
/** Rotations and reloads add entries; past this many, the cache starts over. @defaultValue 64 */
const MAX_CACHED = 64;

/**
 * The forms in which a receiver could quote back a secret of ours that it
 * holds or was sent (a signing secret, OpenClaw's hooks token): those the
 * tools' HTTP layer blanks for credentials (as is, URL-encoded, JSON-escaped:
 * quotedForms), plus base64, base64url, hex, and a Standard Webhooks secret's
 * key part. Longest first, so a whole value is blanked before a part of it is
 * looked for.
 */
export function secretForms(values: readonly string[]): string[] {
  const cacheKey = values.join('\0');
  const cached = formsByValues.get(cacheKey);
  if (cached) return cached;
  const parts = values.flatMap((value) => (value.startsWith('whsec_') ? [value, value.slice('whsec_'.length)] : [value]));
  const encoded = parts.flatMap((part) => {
    const bytes = Buffer.from(part);
    return [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')].filter((form) => form.length >= MIN_SECRET_LENGTH);
  });
  const forms = [...new Set([...quotedForms(parts, MIN_SECRET_LENGTH), ...encoded])].sort((a, b) => b.length - a.length);
  if (formsByValues.size >= MAX_CACHED) formsByValues.clear();
  formsByValues.set(cacheKey, forms);
  return forms;
}

/**
 * How much of a body to read so that a secret that begins inside the excerpt
 * and runs past its end is seen whole, and blanked whole.
 */
export function excerptReadBytes(forms: readonly string[], limit = ANSWER_EXCERPT_BYTES): number {
  return limit + Math.max(0, ...forms.map((form) => Buffer.byteLength(form)));
}

/**
 * The first `bytes` of an answer's body. The rest drains in the background
 * (up to the client's `maxBytes`, where its stream ends in an error), so a
 * keep-alive connection stays reusable. Settles once it has them, or when the
 * body ends, fails or is cut off: the request's deadline aborts the stream, so
 * a receiver that trickles its body cannot hold the try longer than that.
 */
export function readHead(body: Readable, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).subarray(0, bytes));
    };
    body.on('data', (chunk: Buffer | string) => {
      if (kept >= bytes) return;
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      kept += buffer.length;
      if (kept >= bytes) done();
    });
    body.on('error', done);
    body.on('end', done);
    body.on('close', done);
  });
}

/** UTF-8 without BOM stripping; `stream: true` holds back a character cut in half at the end rather than decoding it as U+FFFD. */
const decodeWhole = (bytes: Uint8Array): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes, { stream: true });

/**
 * At most `limit` bytes from the start of an answer's body (cut on a character
 * boundary), as text, with every secret form that begins inside them replaced
 * whole by `[redacted]`. Nothing else is changed: the body is the receiver's,
 * and its error message is what an operator needs. `head` should hold
 * {@link excerptReadBytes} bytes, so a secret straddling the cut is blanked
 * rather than half kept.
 */
export function answerExcerpt(head: Buffer, forms: readonly string[], limit = ANSWER_EXCERPT_BYTES): string {
  const text = decodeWhole(head);
  const cut = decodeWhole(Buffer.from(text).subarray(0, limit)).length;
  const hits: Array<[number, number]> = [];
  for (const form of forms) {
    for (let at = text.indexOf(form); at !== -1 && at < cut; at = text.indexOf(form, at + 1)) hits.push([at, at + form.length]);
  }
  hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let at = 0;
  for (const [start, end] of hits) {
    if (end <= at) continue;
    if (start >= at) out += text.slice(at, start) + BLANKED;
    at = end;
  }
  return at < cut ? out + text.slice(at, cut) : out;
}

/** A failing answer as `lastError` records it: the reason, then the excerpt of the body when it has one. */
export function withExcerpt(reason: string, excerpt: string): string {
  return excerpt === '' ? reason : `${reason}: ${excerpt}`;
}
