import type { IntegrationConfig, Logger } from '@broker/shared';
import { ToolError, type AdmittedRequest } from '@broker/tools';
import { admissionFreshMs, type CallGate } from '../limits/call-gate';
import { CallHeldBack } from './call-held-back';

/** A request after a try's first waits this long at most for the call gate. @defaultValue 30000 */
export const MAX_IN_TRY_GATE_WAIT_MS = 30_000;

/** The gate admitted the try's first request (member = the try token) when the job was claimed. */
export interface PreAdmission {
  /** performance.now() when the admission was asked: it happened at Redis after this. */
  askedAt: number;
}

export interface CallAdmissionOptions {
  gate: CallGate;
  integrationName: string;
  integration: IntegrationConfig;
  connection: string;
  /** Unique to the try: the window members are `<token>`, `<token>:1`, … */
  tryToken: string;
  /** Used for the first request if it is written while fresh (see admissionFreshMs); else given back and asked again. */
  preAdmission?: PreAdmission;
  signal: AbortSignal;
  log: Logger;
  /** Told each time a request is admitted (a half-open breaker's probe renews its lease). Must not throw. */
  onAdmitted?: () => void;
  /** @defaultValue {@link MAX_IN_TRY_GATE_WAIT_MS} */
  maxWaitMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError('TIMEOUT', { message: 'cancelled while waiting for the rate limit', stage: 'prepare' }));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The `admit` hook of one try's HTTP handle (CONTRACT §2: every upstream
 * request counts from the moment it is sent). The HTTP layer calls it right
 * before each request is written — after credentials are resolved or
 * refreshed, for resends after a 401 or a refused connection too — so no
 * wait can slip between admission and sending.
 *
 * The try's first request may use the admission asked with the job's claim
 * (one round trip fewer) only while it is fresh: within the margin its
 * window entry was stamped ahead, so it still counts a whole window from the
 * sending. Later — a credential refresh, a slow secret read — it is given
 * back and asked again here.
 *
 * The try's first request does not wait: refused, the job is put back
 * (CallHeldBack) and its worker slot is free for other jobs. Later requests
 * (pages, resends) wait in the try up to `maxWaitMs`, then the job is put
 * back the same way. An admitted request is re-timed at its answer.
 */
export function callAdmission(options: CallAdmissionOptions): () => Promise<AdmittedRequest> {
  const { gate, integrationName, integration, connection, tryToken, signal, log } = options;
  const maxWaitMs = options.maxWaitMs ?? MAX_IN_TRY_GATE_WAIT_MS;
  let requests = 0;
  let pre = options.preAdmission;
  return async () => {
    const n = requests++;
    const member = n === 0 ? tryToken : `${tryToken}:${n}`;
    let waited = 0;
    if (n === 0 && pre) {
      const fresh = performance.now() - pre.askedAt <= admissionFreshMs(integration, connection);
      pre = undefined;
      if (fresh) return admitted(member);
      await gate.release(integrationName, connection, member);
    }
    for (;;) {
      const verdict = await gate.acquire(integrationName, integration, connection, member);
      if (verdict.admitted) break;
      if (n === 0 || waited + verdict.waitMs > maxWaitMs) throw CallHeldBack.from(verdict, n > 0);
      await sleep(verdict.waitMs, signal);
      waited += verdict.waitMs;
    }
    return admitted(member);
  };

  function admitted(member: string): AdmittedRequest {
    options.onAdmitted?.();
    return {
      answered() {
        // Fire and forget: it lands long before the window could admit this slot again.
        gate
          .settled(integrationName, integration, connection, member)
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'rate window not re-timed'));
      },
    };
  }
}
