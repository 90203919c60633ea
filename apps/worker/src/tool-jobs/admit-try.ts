import { randomBytes } from 'node:crypto';
import type { IntegrationConfig, JobStatus, Logger } from '@broker/shared';
import { ToolError } from '@broker/tools';
import type { BreakerTicket } from '../limits/circuit-breaker';
import type { ToolJobDeps } from './tool-job-deps';

export type TryAdmission =
  /** Run the try: its attempt number, the breaker's ticket, and the token that names its calls in the windows. */
  | { kind: 'run'; attempt: number; ticket: Extract<BreakerTicket, { admitted: true }>; tryToken: string }
  /** The job is not to run: cancelled, finished already (a stalled re-run), or without a record. */
  | { kind: 'skip'; status: JobStatus | 'missing' }
  /** The breaker is open or probing: the job waits (a CIRCUIT_OPEN error carrying the wait). */
  | { kind: 'held'; error: ToolError };

/**
 * The first step of a try: claim the job's record (it turns `running` and
 * counts the attempt) and ask the circuit breaker, at once — one round trip.
 * What one of them took is given back when the other refuses. The call gate is
 * not asked here: the HTTP layer asks it right before each request is written.
 */
export async function admitTry(deps: ToolJobDeps, id: string, name: string, integration: IntegrationConfig, log: Logger): Promise<TryAdmission> {
  const tryToken = `${id}:${randomBytes(4).toString('hex')}`;
  const [claim, ticket] = await Promise.all([deps.store.claimTry(id), deps.breaker.admit(name, integration, tryToken, log)]);
  if (claim.status !== 'running') {
    if (ticket.admitted) await ticket.release();
    return { kind: 'skip', status: claim.status };
  }
  if (!ticket.admitted) {
    const error = new ToolError('CIRCUIT_OPEN', { message: ticket.error.message, retryAfterMs: ticket.waitMs, stage: 'prepare' });
    return { kind: 'held', error };
  }
  return { kind: 'run', attempt: claim.attempts, ticket, tryToken };
}
