import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of the raw body. */
export function hmacSha256(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/**
 * Does `presented` (a decoded 32-byte digest) equal the body's HMAC under any
 * of `secrets`? timingSafeEqual on equal lengths (it throws otherwise, which
 * is why callers check the format first), and no early exit, so timing tells
 * nothing about which secret or how much of the signature was right.
 */
export function matchesAnyHmac(presented: Buffer, secrets: readonly string[], body: Buffer): boolean {
  let hit = false;
  for (const secret of secrets) {
    const expected = hmacSha256(secret, body);
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) hit = true;
  }
  return hit;
}
