import { randomBytes } from 'node:crypto';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { JobStatus } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import { ToolError } from '@broker/tools';
import type { BreakerTicket } from '../limits/circuit-breaker';
import type { PreAdmission } from './call-admission';
import { CallHeldBack } from './call-held-back';
import type { ToolJobDeps } from './tool-job-deps';

/** Unique per process; a counter after it names each try (no random bytes per job). */
const PROCESS_TAG = randomBytes(4).toString('hex');
let tries = 0;

export type TryAdmission =
  /**
   * Run the try: its attempt number, the breaker's ticket, the token that
   * names its calls in the windows, and the gate's admission of its first
   * request, asked with the claim (good only while fresh: see callAdmission).
   */
  | {
      kind: 'run';
      attempt: number;
      ticket: Extract<BreakerTicket, { admitted: true }>;
      tryToken: string;
      preAdmission: PreAdmission;
      /** The record was still `running`: an earlier try never reported back, and may have reached the upstream. */
      interrupted: boolean;
    }
  /** The job is not to run: cancelled, finished already (a stalled re-run), or without a record. */
  | { kind: 'skip'; status: JobStatus | 'missing' }
  /**
   * The breaker is open or probing, or the gate refused: the job waits (the
   * error carries the wait). The claim was made: its token, and whether it
   * found an earlier try interrupted, matter all the same.
   */
  | { kind: 'held'; error: ToolError; tryToken: string; interrupted: boolean };

/**
 * The first step of a try: claim the job's record (it turns `running` and
 * counts the attempt), ask the circuit breaker, and ask the call gate for the
 * first request — at once, one round trip. What one of them took is given
 * back when another refuses. The gate's admission is only used if the first
 * request is written while it is fresh (no credential refresh or slow secret
 * read in between); otherwise the HTTP layer asks the gate again.
 */
export async function admitTry(
  deps: ToolJobDeps,
  id: string,
  name: string,
  integration: IntegrationConfig,
  connection: string,
  log: Logger,
  countsAttempt = true,
): Promise<TryAdmission> {
  const tryToken = `${id}:${PROCESS_TAG}${(++tries).toString(36)}`;
  const askedAt = performance.now();
  const settled = await Promise.allSettled([
    deps.store.claimTry(id, tryToken, countsAttempt),
    deps.breaker.admit(name, integration, tryToken, log),
    deps.gate.acquire(name, integration, connection, tryToken),
  ]);
  const [claimed, admitted, gated] = settled;
  if (claimed.status === 'rejected' || admitted.status === 'rejected' || gated.status === 'rejected') {
    // Give back what was granted (a probe, a window slot, the claim), then fail the try as Redis failed it.
    await Promise.allSettled([
      admitted.status === 'fulfilled' && admitted.value.admitted ? admitted.value.release() : undefined,
      gated.status === 'fulfilled' && gated.value.admitted ? deps.gate.release(name, connection, tryToken) : undefined,
      // Nothing was sent: a record left `running` would make the re-run take this try for one
      // interrupted mid-call, and end an unkeyed write OUTCOME_UNKNOWN. A claim that found an
      // earlier try interrupted stays as it is: that try may have reached the upstream.
      claimed.status === 'fulfilled' && claimed.value.status === 'running' && !claimed.value.interrupted ? deps.store.markWaiting(id, 'queued', undefined, tryToken) : undefined,
    ]);
    throw [claimed, admitted, gated].find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
  }
  const [claim, ticket, verdict] = [claimed.value, admitted.value, gated.value];
  const runs = claim.status === 'running' && ticket.admitted && verdict.admitted;
  if (!runs) {
    await Promise.all([ticket.admitted ? ticket.release() : undefined, verdict.admitted ? deps.gate.release(name, connection, tryToken) : undefined]);
  }
  if (claim.status !== 'running') return { kind: 'skip', status: claim.status };
  if (!ticket.admitted) {
    const error = new ToolError('CIRCUIT_OPEN', { message: ticket.error.message, retryAfterMs: ticket.waitMs, stage: 'prepare' });
    return { kind: 'held', error, tryToken, interrupted: claim.interrupted };
  }
  if (!verdict.admitted) return { kind: 'held', error: CallHeldBack.from(verdict, false), tryToken, interrupted: claim.interrupted };
  return { kind: 'run', attempt: claim.attempts, ticket, tryToken, preAdmission: { askedAt }, interrupted: claim.interrupted };
}
