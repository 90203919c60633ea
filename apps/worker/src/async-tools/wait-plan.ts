import { eventTypeList } from '@broker/shared/config/async-schema';
import type { AsyncWait } from '@broker/shared/async/wait-state';
import {
  DEFAULT_ASYNC_DEADLINE_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_POLL_MAX_INTERVAL_MS,
  MAX_ASYNC_DEADLINE_MS,
  ToolError,
  type Pending,
  type RunnableTool,
} from '@broker/tools';

/** A reference longer than this is refused: it lives in keys, progress and error messages. */
const MAX_REFERENCE_LENGTH = 512;

/**
 * The wait a pending answer asks for, checked: a reference, a poll (the tool
 * must be able to check) and/or a webhook, a deadline within bounds. A tool
 * that returns something else is a bug in the tool: `UNKNOWN`, not retried.
 */
export function planWait(tool: RunnableTool, pending: Pending, now: number, override?: { intervalMs: number; maxIntervalMs?: number | undefined }): AsyncWait {
  const { options, reference } = pending;
  const broken = (why: string) => new ToolError('UNKNOWN', { message: `${tool.name} returned "pending" ${why}`, retryable: false });
  if (!reference || reference.length > MAX_REFERENCE_LENGTH) throw broken(`with a reference of ${reference.length} characters (1–${MAX_REFERENCE_LENGTH})`);
  if (!options.poll && !options.webhook) throw broken('without a poll or a webhook to finish it');
  if (options.poll && !tool.checkStatus) throw broken('asking to be polled, but has no checkStatus');
  const deadlineMs = options.deadlineMs ?? DEFAULT_ASYNC_DEADLINE_MS;
  if (!(deadlineMs > 0 && deadlineMs <= MAX_ASYNC_DEADLINE_MS)) throw broken(`with a deadline of ${deadlineMs} ms`);

  const wait: AsyncWait = { reference, since: now, deadline: now + deadlineMs, checks: 0 };
  if (options.poll) {
    // The integration's `asyncPoll` wins over what the tool asks for: the operator knows the upstream's budget.
    const intervalMs = Math.max(10, override?.intervalMs ?? options.poll.intervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    const maxIntervalMs = Math.max(intervalMs, override?.maxIntervalMs ?? (override ? intervalMs * 8 : undefined) ?? options.poll.maxIntervalMs ?? DEFAULT_POLL_MAX_INTERVAL_MS);
    wait.poll = { nextAt: now + intervalMs, intervalMs, maxIntervalMs };
  }
  if (options.webhook) {
    const events = eventTypeList(options.webhook.event);
    if (events.length === 0) throw broken('with a webhook that names no event type');
    wait.webhook = {
      source: options.webhook.source,
      events,
      failEvents: eventTypeList(options.webhook.failEvent),
      path: options.webhook.path,
      ...(options.webhook.resultPath ? { resultPath: options.webhook.resultPath } : {}),
    };
  }
  if (options.progress !== undefined) wait.upstream = options.progress;
  return wait;
}

/** After a check that found the operation pending (or failed to ask): the next one, twice as far off, capped. */
export function afterCheck(wait: AsyncWait, now: number): AsyncWait {
  if (!wait.poll) return { ...wait, checks: wait.checks + 1 };
  const intervalMs = Math.min(wait.poll.intervalMs * 2, wait.poll.maxIntervalMs);
  return { ...wait, checks: wait.checks + 1, poll: { ...wait.poll, nextAt: now + intervalMs, intervalMs } };
}

/** When the job should run again: the next check, or the deadline, whichever comes first. */
export function nextWake(wait: AsyncWait): number {
  return Math.min(wait.poll?.nextAt ?? Number.POSITIVE_INFINITY, wait.deadline);
}

/** Whether a status check is due at `now` (one is always made at the deadline, for a last word). */
export function checkDue(wait: AsyncWait, now: number): boolean {
  return wait.poll !== undefined && now >= Math.min(wait.poll.nextAt, wait.deadline);
}

/** The error of a wait that ran out, with the reference so an agent can follow up. */
export function deadlineError(tool: string, wait: AsyncWait): ToolError {
  const via = [wait.poll ? 'a finished status' : '', wait.webhook ? `a "${wait.webhook.events.join('"/"')}" event from "${wait.webhook.source}"` : ''].filter(Boolean).join(' or ');
  return new ToolError('TIMEOUT', {
    message: `${tool}: the upstream operation "${wait.reference}" did not finish within ${wait.deadline - wait.since} ms (no ${via} by ${new Date(wait.deadline).toISOString()}); look it up upstream by its reference "${wait.reference}"`,
    retryable: false,
  });
}
