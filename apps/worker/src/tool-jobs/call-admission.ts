import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import { ToolError, type AdmittedRequest } from '@broker/tools';
import { PRE_ADMISSION_FRESH_MS, type CallGate } from '../limits/call-gate';
import { CallHeldBack } from './call-held-back';
import { ClaimLost } from './claim-lost';

/** A request after a try's first waits this long at most for the call gate. @defaultValue 30000 */
export const MAX_IN_TRY_GATE_WAIT_MS = 30_000;

/**
 * ...and this long at most when only its connection is held (its own window
 * or pause): the wait keeps a worker slot other connections' jobs could use,
 * so it stays short; longer, the job is put back alone. @defaultValue 1000
 */
export const MAX_IN_TRY_CONNECTION_WAIT_MS = 1000;

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
  /** Used for the first request if its exchange starts while fresh (see PRE_ADMISSION_FRESH_MS); else given back and asked again. */
  preAdmission?: PreAdmission;
  signal: AbortSignal;
  log: Logger;
  /** Told each time a request is admitted (a half-open breaker's probe renews its lease). Must not throw. */
  onAdmitted?: () => void;
  /** @defaultValue {@link MAX_IN_TRY_GATE_WAIT_MS} */
  maxWaitMs?: number;
  /**
   * Asked with each admission, in the same round trip: does this try still
   * hold its job (see JobStore.holdsClaim)? When not, nothing is sent
   * (ClaimLost). Given for writes without an idempotency key, where a second
   * try running at once would apply the write twice.
   */
  fence?: { jobId: string; holds: () => Promise<boolean> };
  /**
   * Awaited once the try's first request is admitted, before it is sent
   * (spend caps: the job's amounts are committed for good, so a job that
   * reached the upstream is never given back). A rejection sends nothing: the
   * admission is given back and the request fails with it. Given only for
   * jobs under a spend cap; others pay nothing.
   */
  beforeFirstRequest?: () => Promise<void>;
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
 * The `admit` hook of one try's HTTP handle (docs/integrations.md#limits-and-the-circuit-breaker: every upstream
 * request counts from the moment it is sent). The HTTP layer calls it right
 * before each request is written — after credentials are resolved or
 * refreshed, for resends after a 401 or a refused connection too — so no
 * wait can slip between admission and sending.
 *
 * The try's first request may use the admission asked with the job's claim
 * (one round trip fewer) only while it is fresh: its window entry was stamped
 * far enough ahead to count it until its exchange's deadline (see
 * inFlightHoldMs), and it is re-stamped at its end. Later — a slow credential
 * refresh — it is given back and asked again here.
 *
 * The try's first request does not wait: refused, the job is put back
 * (CallHeldBack) and its worker slot is free for other jobs. Later requests
 * (pages, resends) wait in the try up to `maxWaitMs` (only a second when
 * only their connection is held), then the job is put back the same way. An
 * admitted request is re-timed at its answer.
 */
/** The admit hook, and a way to give back the admission asked with the claim when the try made no request. */
export interface CallAdmission {
  admit(): Promise<AdmittedRequest>;
  /** Frees the first request's slot if it was never used (the tool failed first, or made no call). Never throws. */
  releaseUnused(): Promise<void>;
}

export function callAdmission(options: CallAdmissionOptions): CallAdmission {
  const { gate, integrationName, integration, connection, tryToken, signal, log } = options;
  const maxWaitMs = options.maxWaitMs ?? MAX_IN_TRY_GATE_WAIT_MS;
  let requests = 0;
  let pre = options.preAdmission;
  const admit = async (): Promise<AdmittedRequest> => {
    const n = requests++;
    const member = n === 0 ? tryToken : `${tryToken}:${n}`;
    let waited = 0;
    if (n === 0 && pre) {
      const fresh = performance.now() - pre.askedAt <= PRE_ADMISSION_FRESH_MS;
      pre = undefined;
      if (fresh) {
        const [holds] = await Promise.all([options.fence ? options.fence.holds() : true, beforeSending(n, member)]);
        if (!holds) await claimLost(member);
        return admitted(member);
      }
      await gate.release(integrationName, connection, member);
    }
    for (;;) {
      const [verdict, holds] = await Promise.all([gate.acquire(integrationName, integration, connection, member), options.fence ? options.fence.holds() : true]);
      if (!holds) await claimLost(member);
      if (verdict.admitted) break;
      const bound = verdict.scope === 'connection' ? Math.min(maxWaitMs, MAX_IN_TRY_CONNECTION_WAIT_MS) : maxWaitMs;
      if (n === 0 || waited + verdict.waitMs > bound) throw CallHeldBack.from(verdict, n > 0);
      await sleep(verdict.waitMs, signal);
      waited += verdict.waitMs;
    }
    await beforeSending(n, member);
    return admitted(member);
  };
  return {
    admit,
    async releaseUnused() {
      if (requests > 0 || !pre) return;
      pre = undefined;
      await gate.release(integrationName, connection, tryToken).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'unused rate window slot not given back'));
    },
  };

  /** Runs `beforeFirstRequest` for the try's first request; failed, gives the admission back and rethrows. */
  async function beforeSending(n: number, member: string): Promise<void> {
    if (n > 0 || !options.beforeFirstRequest) return;
    try {
      await options.beforeFirstRequest();
    } catch (err) {
      await gate.release(integrationName, connection, member).catch(() => undefined);
      throw err;
    }
  }

  /** The try no longer holds its job: gives back the slot it would have used (a no-op if it held none) and sends nothing. */
  async function claimLost(member: string): Promise<never> {
    await gate.release(integrationName, connection, member).catch(() => undefined);
    log.warn('another try claimed the job; not sending');
    throw new ClaimLost(options.fence!.jobId);
  }

  function admitted(member: string): AdmittedRequest {
    options.onAdmitted?.();
    return {
      answered() {
        // Fire and forget: it lands long before the window could admit this slot again.
        gate.settled(integrationName, integration, connection, member).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'rate window not re-timed'));
      },
    };
  }
}
