import { BrokerApiError, BrokerTimeoutError } from './errors';
import { TERMINAL_STATUSES, type Job, type Problem, type Tool } from './types';

export interface BrokerClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** The agent key, sent as `Authorization: Bearer <key>`. */
  agentKey: string;
  /**
   * How long one request may take, on top of any `waitMs` it asks the API to hold it.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

export interface SubmitOptions {
  /** Makes the submission safe to repeat: the same key, tool and input return the same job for 24 h. */
  idempotencyKey?: string;
  /** The integration's credential to use. @defaultValue "default" */
  connection?: string;
  /** The broker POSTs the finished job here, signed with Standard Webhooks headers. */
  callbackUrl?: string;
}

/** The API's ceiling for one long-poll (docs/api.md#the-agent-api). */
export const MAX_WAIT_MS = 30_000;

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    if (typeof body.code === 'string') return { type: '', title: '', detail: '', ...body, status: res.status } as Problem;
  } catch {
    // not JSON: described below
  }
  return { type: 'about:blank', title: res.statusText, status: res.status, detail: text.slice(0, 500), code: `HTTP_${res.status}` };
}

/**
 * The agent API as typed calls. Every non-2xx answer throws
 * {@link BrokerApiError}; network failures and timeouts throw fetch's own
 * errors. No retries are made here: an agent decides from `code`/`retryable`.
 */
export class BrokerClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: BrokerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The tools this key may call, with their JSON Schemas. */
  async listTools(): Promise<Tool[]> {
    const { body } = await this.request<{ tools: Tool[] }>('GET', '/v1/tools');
    return body.tools;
  }

  /**
   * Queues a tool call and returns the job at once (`queued`). With an
   * idempotency key, a repeat returns the original job, whatever its state.
   */
  async submit<Result = unknown>(tool: string, input: Record<string, unknown>, options: SubmitOptions = {}): Promise<Job<Result>> {
    const body: Record<string, unknown> = { tool, input };
    if (options.connection !== undefined) body.connection = options.connection;
    if (options.callbackUrl !== undefined) body.callbackUrl = options.callbackUrl;
    const headers: Record<string, string> = options.idempotencyKey !== undefined ? { 'Idempotency-Key': options.idempotencyKey } : {};
    return (await this.request<Job<Result>>('POST', '/v1/jobs', { body, headers })).body;
  }

  /** Reads a job; with `waitMs` (0..30000) the API holds the answer until the job finishes or the time is up. */
  async get<Result = unknown>(id: string, options: { waitMs?: number } = {}): Promise<Job<Result>> {
    const waitMs = options.waitMs ?? 0;
    const query = waitMs > 0 ? `?waitMs=${waitMs}` : '';
    return (await this.request<Job<Result>>('GET', `/v1/jobs/${encodeURIComponent(id)}${query}`, { extraTimeMs: waitMs })).body;
  }

  /**
   * Long-polls until the job is `succeeded`, `failed` or `cancelled` and
   * returns it (a failed job is returned, not thrown: read `job.error`).
   * Throws {@link BrokerTimeoutError} after `timeoutMs`.
   */
  async wait<Result = unknown>(id: string, options: { timeoutMs?: number } = {}): Promise<Job<Result>> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let job = await this.get<Result>(id);
    while (!TERMINAL_STATUSES.has(job.status)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new BrokerTimeoutError(job);
      job = await this.get<Result>(id, { waitMs: Math.min(MAX_WAIT_MS, left) });
    }
    return job;
  }

  /** Submits and waits: the job once it finished. */
  async run<Result = unknown>(tool: string, input: Record<string, unknown>, options: SubmitOptions & { timeoutMs?: number } = {}): Promise<Job<Result>> {
    const job = await this.submit<Result>(tool, input, options);
    return this.wait<Result>(job.id, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
  }

  /** Cancels a `queued` or `deferred` job; 409 `CONFLICT` once it runs or ended. */
  async cancel(id: string): Promise<Job> {
    return (await this.request<Job>('DELETE', `/v1/jobs/${encodeURIComponent(id)}`)).body;
  }

  /**
   * Runs a failed job again, as the same job (same id, same upstream
   * Idempotency-Key), when its `error.retryable` is true or its code is
   * `OUTCOME_UNKNOWN`: returns it `queued` (`attempts` keeps counting); follow
   * it with {@link wait}. Any other state throws 409 `CONFLICT`; another
   * agent's job 404 `NOT_FOUND`. Resubmitting with the same idempotency key
   * would only return the same failed job.
   */
  async retryJob<Result = unknown>(id: string): Promise<Job<Result>> {
    return (await this.request<Job<Result>>('POST', `/v1/jobs/${encodeURIComponent(id)}/retry`)).body;
  }

  private async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; extraTimeMs?: number } = {},
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.options.agentKey}`, Accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs + (options.extraTimeMs ?? 0)),
    });
    if (!res.ok) {
      const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
      throw new BrokerApiError(await problemOf(res), Number.isFinite(retryAfter) ? retryAfter : undefined);
    }
    return { status: res.status, body: (await res.json()) as T };
  }
}
