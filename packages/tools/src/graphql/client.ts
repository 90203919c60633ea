import { ToolError } from '../tool-error';
import type { ToolContext } from '../types';
import { pauseBeforeNextMs, readCost, type QueryCost } from './cost';
import { toolErrorFromGraphql, type GraphqlError } from './errors';

export interface GraphqlClientOptions {
  /** The endpoint below the integration's baseUrl, e.g. `/admin/api/2026-10/graphql.json`. */
  path: string;
  /** A mutation changes state upstream: its INTERNAL_SERVER_ERROR is not retried. @defaultValue false */
  write?: boolean;
  /**
   * Points of the cost bucket to leave for other calls of the integration
   * (other jobs, other workers) when deciding to pause. @defaultValue 0
   */
  reserve?: number;
  /**
   * The longest pause this tool sits out itself before its next call; a
   * longer one ends the try as RATE_LIMITED (deferred, no attempt spent) so
   * the worker's slot is not held. @defaultValue 10000
   */
  maxInlineWaitMs?: number;
}

interface GraphqlAnswer<T> {
  data?: T | null;
  errors?: GraphqlError[];
  extensions?: unknown;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ToolError('TIMEOUT', { message: 'cancelled while waiting for the query cost budget' }));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError('TIMEOUT', { message: 'cancelled while waiting for the query cost budget' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A GraphQL client over the tool's `ctx.http` (so auth, timeouts, HTTP status
 * classification and logging stay the integration's), for one try of one
 * tool. It maps `errors` to tool errors and follows the cost bucket the API
 * reports: when the bucket would not cover the next call, it pauses the whole
 * integration (`ctx.pauseIntegration`, every worker) and holds its own next
 * call until the bucket has refilled, so THROTTLED is avoided rather than met.
 */
export class GraphqlClient {
  private notBefore = 0;
  /** The cost block of the last answer, for callers that want to show it. */
  lastCost: QueryCost | undefined;

  constructor(
    private readonly ctx: Pick<ToolContext, 'http' | 'signal'> & Partial<Pick<ToolContext, 'pauseIntegration'>>,
    private readonly options: GraphqlClientOptions,
  ) {}

  async request<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, operationName?: string): Promise<T> {
    await this.beforeCall();
    const res = await this.ctx.http.request<GraphqlAnswer<T>>({
      method: 'POST',
      path: this.options.path,
      json: { query, variables, ...(operationName ? { operationName } : {}) },
    });
    const body = res.data;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ToolError('UNKNOWN', { message: `upstream answered ${res.status} without a GraphQL result`, upstreamStatus: res.status });
    }
    const cost = readCost(body.extensions);
    this.lastCost = cost;
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      throw toolErrorFromGraphql(body.errors, cost, this.options.write ?? false);
    }
    if (body.data === undefined || body.data === null) {
      throw new ToolError('UNKNOWN', { message: `upstream answered ${res.status} with neither data nor errors`, upstreamStatus: res.status });
    }
    if (cost) await this.afterCost(cost);
    return body.data;
  }

  private async afterCost(cost: QueryCost): Promise<void> {
    const waitMs = pauseBeforeNextMs(cost, this.options.reserve ?? 0);
    if (waitMs <= 0) return;
    this.notBefore = Math.max(this.notBefore, Date.now() + waitMs);
    // Best effort: the budget is a hint; failing to share it must not fail a call that succeeded.
    await this.ctx.pauseIntegration?.(waitMs, 'graphql cost budget').catch(() => undefined);
  }

  private async beforeCall(): Promise<void> {
    const waitMs = this.notBefore - Date.now();
    if (waitMs > 0) {
      const limit = this.options.maxInlineWaitMs ?? 10_000;
      if (waitMs > limit) {
        throw new ToolError('RATE_LIMITED', {
          message: `the query cost budget needs ${waitMs} ms to refill (more than ${limit} ms)`,
          retryable: true,
          retryAfterMs: waitMs,
        });
      }
      await sleep(waitMs, this.ctx.signal);
    }
  }
}
