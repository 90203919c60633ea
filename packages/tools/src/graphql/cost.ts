/**
 * Shopify's cost-based throttling (https://shopify.dev/docs/api/usage/limits):
 * each query has a cost in points drawn from a leaky bucket that refills at
 * `restoreRate` points per second up to `maximumAvailable`. Every answer
 * reports the bucket in `extensions.cost`.
 */
export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  /** Points per second. */
  restoreRate: number;
}

export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost?: number | null;
  throttleStatus: ThrottleStatus;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The cost block of an answer's `extensions`, or undefined when the API does not report one. */
export function readCost(extensions: unknown): QueryCost | undefined {
  const cost = (extensions as { cost?: Record<string, unknown> } | undefined)?.cost;
  const status = cost?.throttleStatus as Record<string, unknown> | undefined;
  if (!cost || !status) return undefined;
  const { maximumAvailable, currentlyAvailable, restoreRate } = status;
  if (!finite(cost.requestedQueryCost) || !finite(maximumAvailable) || !finite(currentlyAvailable) || !finite(restoreRate) || restoreRate <= 0) {
    return undefined;
  }
  return {
    requestedQueryCost: cost.requestedQueryCost,
    actualQueryCost: finite(cost.actualQueryCost) ? cost.actualQueryCost : null,
    throttleStatus: { maximumAvailable, currentlyAvailable, restoreRate },
  };
}

/** How long until the bucket holds `points`, in ms (0 when it already does). */
export function msUntilAvailable(status: ThrottleStatus, points: number): number {
  const missing = Math.min(points, status.maximumAvailable) - status.currentlyAvailable;
  if (missing <= 0) return 0;
  return Math.ceil((missing / status.restoreRate) * 1000);
}

/**
 * After a successful answer: how long to hold the next call back so that it
 * does not run the bucket dry. The next call is assumed to cost what this one
 * asked for (a page of the same listing does), plus `reserve` points left for
 * other calls of the integration already on their way.
 */
export function pauseBeforeNextMs(cost: QueryCost, reserve = 0): number {
  return msUntilAvailable(cost.throttleStatus, cost.requestedQueryCost + reserve);
}

/** The wait a THROTTLED answer calls for; a second when the API gave no cost to compute it from. */
export function throttledRetryAfterMs(cost: QueryCost | undefined): number {
  if (!cost) return 1000;
  return Math.max(msUntilAvailable(cost.throttleStatus, cost.requestedQueryCost), 1);
}
