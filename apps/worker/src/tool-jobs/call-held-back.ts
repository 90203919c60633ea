import { ToolError } from '@broker/tools';
import type { GateVerdict, HoldScope } from '../limits/call-gate';

/**
 * The call gate would not let a request go (a pause, or a full sliding
 * window) and the try cannot wait for it. Nothing was sent: the job waits
 * without spending an attempt, and only who the refusal concerns waits —
 * one connection's jobs, or the integration's.
 */
export class CallHeldBack extends ToolError {
  constructor(
    readonly scope: HoldScope,
    readonly waitMs: number,
    readonly reason: 'paused' | 'rate_limit',
    /**
     * The try had already sent a request (a later page or a resend): the job
     * will start over, so such holds are counted and bounded, or a tool whose
     * pages never fit the connection's window would loop forever.
     */
    readonly midTry = false,
  ) {
    super('RATE_LIMITED', {
      message: `the ${scope} is ${reason === 'paused' ? 'paused' : 'at its rate limit'} for ${waitMs} ms more`,
      retryable: true,
      retryAfterMs: waitMs,
      stage: 'prepare',
    });
  }

  static from(verdict: Extract<GateVerdict, { admitted: false }>, midTry: boolean): CallHeldBack {
    return new CallHeldBack(verdict.scope, verdict.waitMs, verdict.reason, midTry);
  }
}
