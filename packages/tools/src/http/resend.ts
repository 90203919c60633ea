import type { ClientRequest } from 'node:http';
import type { AxiosError, AxiosInstance, AxiosRequestConfig } from 'axios';
import axiosRetry from 'axios-retry';
import { NOT_SENT_CODES } from './classify';
import type { RequestState } from './call-context';

/** Resends of one request after a failure that proved nothing was sent. @defaultValue 1 */
export const MAX_RECONNECTS = 1;

/**
 * Whether a failure proves the request never reached the upstream: refused,
 * unresolvable or unreachable, or a reset on a reused keep-alive socket with
 * no answer (the server closed the idle socket as we wrote on it — Node's
 * documented `reusedSocket` race). A write without an idempotency key is not
 * given the benefit of that doubt: a reset could also follow a request the
 * server did read.
 */
export function neverReached(err: AxiosError, state: RequestState): boolean {
  if (err.response || !err.code) return false;
  if (NOT_SENT_CODES.has(err.code)) return true;
  const request = err.request as Pick<ClientRequest, 'reusedSocket'> | undefined;
  return err.code === 'ECONNRESET' && request?.reusedSocket === true && !state.writeWithoutKey;
}

/**
 * The resends inside one try, on axios-retry: (a) a 401 → the credentials are
 * read again (an API key re-read, an OAuth token force-refreshed) and the
 * request is sent once more; (b) a failure that proves nothing was sent → sent
 * again at once. Nothing else is resent here: job-level retries (backoff,
 * Retry-After, attempts) are the worker's.
 *
 * `beforeResend` runs in axios-retry's awaited `onRetry`: it reports the
 * failed call, reads the credentials and waits for the call gate's admission
 * before the resend is written, so every resend is a call of its own in the
 * rate windows.
 */
export function resendInsideTry(http: AxiosInstance, beforeResend: (state: RequestState, failed: AxiosError, config: AxiosRequestConfig) => Promise<void>): void {
  axiosRetry(http, {
    retries: 1 + MAX_RECONNECTS,
    retryDelay: () => 0,
    retryCondition: (err) => {
      const state = err.config?.broker;
      if (!state || state.call.signal?.aborted) return false;
      if (err.response?.status === 401) return !state.refreshed;
      return neverReached(err, state) && state.reconnects < MAX_RECONNECTS;
    },
    onRetry: async (_count, err, config) => {
      const state = config.broker!;
      if (err.response?.status === 401) {
        state.refreshed = true;
        if (state.sentHeaders) state.rejectedHeaders = state.sentHeaders;
      } else {
        state.reconnects += 1;
      }
      await beforeResend(state, err, config);
    },
  });
}
