import { timingSafeEqual } from 'node:crypto';

/**
 * Checks an `Authorization: Bearer <token>` header against the expected key in
 * constant time, so response timing does not reveal how much of a guess was right.
 * `timingSafeEqual` throws on buffers of unequal length, hence the length check first;
 * that check leaks only the key's length, as every bearer-token API does.
 */
export function isAuthorized(header: string | undefined, expected: string | undefined): boolean {
  if (!header || !expected) return false;

  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const presented = match?.[1];
  if (presented === undefined) return false;

  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
