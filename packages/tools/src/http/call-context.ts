/** What one try tells the HTTP layer about its calls, and what the layer keeps about each request. */

export interface CallContext {
  tool: string;
  jobId: string;
  attempt: number;
  connection: string;
  /** Sent on writes when the tool or the API supports idempotency. */
  idempotencyKey?: string;
  /** The tool changes state upstream. */
  write: boolean;
  requestId: string;
  signal?: AbortSignal;
  /**
   * Admits each upstream request right before it is written, after its
   * credentials are resolved (the worker's call gate: sliding windows and
   * pauses). Rejects — with a ToolError of stage `prepare` — when the request
   * may not go now; the request is then not sent.
   */
  admit?: () => Promise<AdmittedRequest>;
  /** Told about every upstream call as it ends (the worker turns this into metrics; tools know no Prometheus). */
  onCall?: (report: UpstreamCallReport) => void;
  /**
   * Told the status and (lower-cased) headers of each answer the tool gets, so
   * the worker can follow the rate-limit budget the API reports. Must not throw.
   */
  onResponse?: (answer: UpstreamAnswerHeaders) => void;
}

/** One admitted request: told when its answer (or failure) came back. Must not throw. */
export interface AdmittedRequest {
  answered(): void;
}

export interface UpstreamAnswerHeaders {
  status: number;
  headers: Readonly<Record<string, string>>;
}

/** One finished upstream call; `status` is undefined when no answer came (timeout, reset, refused). */
export interface UpstreamCallReport {
  integration: string;
  status: number | undefined;
  durationMs: number;
  /** When no answer came: the network failure (`ETIMEDOUT` for our deadline, else the socket's code such as `ECONNREFUSED`, or `ERR_NETWORK`). */
  failure?: string;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** The broker's facts about one upstream request (see RequestState). */
    broker?: RequestState;
  }
}

/**
 * What the HTTP layer knows about one request of a tool, across its resends.
 * A class, not a plain object: axios deep-copies plain objects in a request's
 * config, and the interceptors must share this one.
 */
export class RequestState {
  /** The credentials were read again after a 401 (once per request). */
  refreshed = false;
  /** Resends after a failure that proved nothing was sent. */
  reconnects = 0;
  /** The auth headers of the last send (lower-cased names), so a token someone else replaced is not refreshed again. */
  sentHeaders?: Record<string, string>;
  rejectedHeaders?: Record<string, string>;
  /** The forms of the sent credentials, blanked out of any answer. */
  credentials: string[] = [];
  admitted?: AdmittedRequest | undefined;
  /** The deadline of the exchange under way (shared with requests that started with it). */
  deadline?: AbortSignal;
  startedAt?: number | undefined;

  constructor(
    readonly call: CallContext,
    readonly method: string,
    readonly path: string,
    /** A write sent without an idempotency key: never resent unless it provably did not leave. */
    readonly writeWithoutKey: boolean,
  ) {}
}
