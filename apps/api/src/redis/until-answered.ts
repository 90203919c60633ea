import { setTimeout as delay } from 'node:timers/promises';

/**
 * How long the api keeps finishing a write in the background after the
 * request was answered (re-adding a kept job, withdrawing an unkeyed one,
 * promoting an approved one), while Redis does not answer. Past it, a kept
 * record is healed by its key's replay and an approved job runs when its
 * hold would have ended.
 * @defaultValue 60000
 */
export const SETTLE_UNCONFIRMED_MS = 60_000;

/**
 * Tries `attempt` until Redis answers it: 100 ms, doubling to 2 s (the
 * producer's reconnect ceiling) between tries, for at most `giveUpMs`, and not
 * once `queue` is closing (the api is shutting down). Undefined when it never
 * answered. The timers do not hold the process open.
 */
export async function untilAnswered<T>(attempt: () => Promise<T>, queue: { readonly closing: unknown }, giveUpMs = SETTLE_UNCONFIRMED_MS): Promise<T | undefined> {
  const giveUpAt = Date.now() + giveUpMs;
  for (let wait = 100; Date.now() + wait <= giveUpAt; wait = Math.min(wait * 2, 2000)) {
    await delay(wait, undefined, { ref: false });
    if (queue.closing) return undefined;
    try {
      return await attempt();
    } catch {
      // Still unavailable: try again after the next wait.
    }
  }
  return undefined;
}
