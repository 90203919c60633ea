import { createHash } from 'node:crypto';
import { ProblemError } from '@broker/shared/errors/problem';

/** docs/api.md#api-error-codes: 1–255 printable ASCII characters (0x20–0x7E). */
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;

/**
 * Reads the `Idempotency-Key` header (pass `req.headersDistinct[...]`);
 * undefined when absent. Node would join a repeated header with ", " into a
 * key the client never sent, so a repeated header is refused instead.
 */
export function idempotencyKeyOf(values: readonly string[] | undefined): string | undefined {
  if (values === undefined) return undefined;
  const [key] = values;
  if (values.length !== 1 || key === undefined || !VALID_KEY.test(key)) {
    throw new ProblemError('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be one header of 1 to 255 printable ASCII characters.');
  }
  return key;
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The key is hashed before it becomes part of a Redis key: it is client text of any shape. */
export function idempotencyKeyHash(key: string): string {
  return sha256Hex(key);
}

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    // fromEntries defines own properties, so a "__proto__" key in the input is kept, not swallowed.
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/**
 * What "the same request" means for a replay: tool, input and connection.
 * `callbackUrl` is left out: the contract compares tool and input only, and a
 * retrying client may well come back with a different callback.
 */
export function requestFingerprint(request: { tool: string; input: unknown; connection: string }): string {
  return sha256Hex(canonicalJson({ tool: request.tool, input: request.input, connection: request.connection }));
}
