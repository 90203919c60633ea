import { ToolError, type IntegrationHttp } from '@broker/tools';
import type { GateVerdict } from '../limits/call-gate';

/** A tool waits this long at most, in one try, for a further call to be admitted. @defaultValue 30000 */
export const MAX_IN_TRY_GATE_WAIT_MS = 30_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError('TIMEOUT', { message: 'cancelled while waiting for the rate limit' }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The tool's HTTP handle with every call after the first admitted by the call
 * gate. The processor admits a try's first call before running the tool; a
 * tool that makes more (pages of a listing, a GraphQL query after a cost
 * pause) would otherwise slip past the sliding window and the integration's
 * pause. A wait longer than `maxWaitMs` ends the try as RATE_LIMITED, which
 * defers the job without spending an attempt, so no worker slot is held for minutes.
 */
export function gateFurtherCalls(
  http: IntegrationHttp,
  acquire: (call: number) => Promise<GateVerdict>,
  signal: AbortSignal,
  maxWaitMs: number = MAX_IN_TRY_GATE_WAIT_MS,
  /** Told when each call has been answered or has failed (see CallGate.settled); must not throw. */
  settled: (call: number) => void = () => {},
): IntegrationHttp {
  let calls = 0;
  return {
    async request(req) {
      const call = calls++;
      let waited = 0;
      while (call > 0) {
        const verdict = await acquire(call);
        if (verdict.admitted) break;
        if (waited + verdict.waitMs > maxWaitMs) {
          throw new ToolError('RATE_LIMITED', {
            message: `the integration is ${verdict.reason === 'paused' ? 'paused' : 'at its rate limit'} for ${verdict.waitMs} ms more`,
            retryable: true,
            retryAfterMs: verdict.waitMs,
          });
        }
        await sleep(verdict.waitMs, signal);
        waited += verdict.waitMs;
      }
      try {
        return await http.request(req);
      } finally {
        settled(call);
      }
    },
  };
}
