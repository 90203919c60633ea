export interface TriggerRetrySettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential backoff with "equal jitter": uniform in [c/2, c] with
 * c = min(max, base·2^(n-1)). Unlike full jitter it never retries at once,
 * and with the default base (1 s) the first retry comes within 1 s, well
 * inside the contract's 5 s.
 */
export function triggerBackoffMs(attempt: number, settings: TriggerRetrySettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}
