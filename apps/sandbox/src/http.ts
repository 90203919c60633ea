import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http-error';

/** Writes a JSON body with an exact Content-Length (no chunked encoding for tiny bodies). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(payload.length),
    // Order reads change after writes; a caching proxy must never serve a stale one.
    'Cache-Control': 'no-store',
  });
  res.end(payload);
}

/**
 * Buffers the request body up to `limit` bytes.
 *
 * Listeners are used instead of `for await`: leaving an async iterator early destroys
 * the request, and with it the socket, so the client would see a reset instead of the
 * 413. Here an oversized body is drained and discarded while the 413 goes out, and
 * `Connection: close` stops the client from reusing a connection we walked away from.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `request body exceeds ${limit} bytes`, { Connection: 'close' });

  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;

    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        chunks.length = 0;
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };

    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/**
 * Parses a JSON request body. Content-Type is not enforced: `curl -d` sends a form
 * type by default, and the body either parses as JSON or is refused with 400.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) throw new HttpError(400, 'request body must be a JSON object');
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}
