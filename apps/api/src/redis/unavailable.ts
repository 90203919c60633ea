/**
 * Failures that mean "Redis cannot be reached right now", as opposed to a bug.
 * They become 503 + Retry-After (docs/api.md#api-error-codes) instead of 500, so agents retry.
 *
 * ioredis signals them only by message, so the messages are matched here, in
 * one place, rather than wherever a command is sent.
 */
const UNAVAILABLE_MESSAGES = [
  // producer role: enableOfflineQueue=false while disconnected
  "Stream isn't writeable",
  'enableOfflineQueue',
  'Connection is closed',
  // producer role: commandTimeout
  'Command timed out',
  'Reached the max retries per request limit',
  // Redis up but unable to serve (loading an AOF, replica catching up, OOM under noeviction)
  'LOADING',
  'MASTERDOWN',
  'TRYAGAIN',
  'CLUSTERDOWN',
  // A primary with min-replicas-to-write and too few replicas refuses writes (docs/operations.md);
  // a demoted primary refuses them until the connection finds the new one (a Sentinel failover).
  'NOREPLICAS',
  'READONLY',
];

const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ConnectionClosedError', 'RedisDeadlineError']);

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (UNAVAILABLE_NAMES.has(err.name)) return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  if (UNAVAILABLE_MESSAGES.some((m) => err.message.includes(m))) return true;
  // BullMQ wraps some connection failures; look one level down.
  return err.cause !== undefined && err.cause !== err && isRedisUnavailable(err.cause);
}
