import { matchesRule, type AsyncToolConfig, type StatusRule } from '@broker/shared/config/async-schema';
import { readJsonPath, scalarText } from '@broker/shared/async/json-path';
import { pending, type Pending, type PendingOptions, type StatusCheck } from '../async/pending';
import { ToolError } from '../tool-error';
import type { ToolContext } from '../types';
import { fillPath } from './fill-path';

export interface DeclaredAsync {
  /** What the first call's answer means: done already, failed, or pending with its reference. */
  firstAnswer(answer: unknown): unknown;
  checkStatus?(reference: string, input: unknown, ctx: ToolContext): Promise<StatusCheck>;
}

function describe(rule: StatusRule, answer: unknown): string {
  return `${rule.path} = ${JSON.stringify(readJsonPath(answer, rule.path)) ?? 'missing'}`;
}

/**
 * The `async` section of a declared tool: `referencePath` finds the reference
 * in the first answer; `poll` asks `method path` (with `{reference}` and the
 * input's `{param}`s filled in) and reads it with `failedWhen`, `doneWhen`,
 * `pendingWhen` (in that order); `webhook` names the event that ends it.
 */
export function declaredAsync(toolName: string, spec: AsyncToolConfig): DeclaredAsync {
  const poll = spec.poll;
  const options: PendingOptions = {
    deadlineMs: spec.deadlineMs,
    ...(poll ? { poll: { intervalMs: poll.intervalMs, maxIntervalMs: poll.maxIntervalMs } } : {}),
    ...(spec.webhook
      ? {
          webhook: {
            source: spec.webhook.source,
            event: spec.webhook.event,
            path: spec.webhook.path,
            ...(spec.webhook.failEvent !== undefined ? { failEvent: spec.webhook.failEvent } : {}),
            ...(spec.webhook.resultPath !== undefined ? { resultPath: spec.webhook.resultPath } : {}),
          },
        }
      : {}),
  };

  const progressOf = (answer: unknown): unknown => (poll?.progressPath ? readJsonPath(answer, poll.progressPath) : undefined);

  /** `undefined`: no rule matched. */
  function interpret(answer: unknown, reference: string): StatusCheck | undefined {
    if (!poll) return undefined;
    if (poll.failedWhen && matchesRule(poll.failedWhen, readJsonPath(answer, poll.failedWhen.path))) {
      return {
        state: 'failed',
        error: new ToolError('UPSTREAM_ERROR', {
          message: `${toolName}: the upstream reports that the operation "${reference}" failed (${describe(poll.failedWhen, answer)})`,
          retryable: false,
        }),
      };
    }
    if (matchesRule(poll.doneWhen, readJsonPath(answer, poll.doneWhen.path))) {
      return { state: 'done', output: poll.resultPath ? readJsonPath(answer, poll.resultPath) : answer };
    }
    if (!poll.pendingWhen || matchesRule(poll.pendingWhen, readJsonPath(answer, poll.pendingWhen.path))) {
      const progress = progressOf(answer);
      return progress === undefined ? { state: 'pending' } : { state: 'pending', progress };
    }
    return undefined;
  }

  return {
    firstAnswer(answer): unknown | Pending {
      const reference = scalarText(readJsonPath(answer, spec.referencePath));
      if (reference === undefined || reference === '') {
        throw new ToolError('SCHEMA_MISMATCH', { message: `${toolName}: the upstream answer has no reference at ${spec.referencePath}` });
      }
      // An upstream may finish at once (a small export); the first answer then reads like a finished status.
      const verdict = interpret(answer, reference);
      if (verdict?.state === 'done') return verdict.output;
      if (verdict?.state === 'failed') throw verdict.error;
      const progress = progressOf(answer);
      return pending(reference, progress === undefined ? options : { ...options, progress });
    },
    ...(poll
      ? {
          async checkStatus(reference: string, input: unknown, ctx: ToolContext): Promise<StatusCheck> {
            const { path } = fillPath(poll.path, { ...(input as Record<string, unknown>), reference });
            const res = await ctx.http.request({ method: poll.method, path });
            const verdict = interpret(res.data, reference);
            if (verdict) return verdict;
            return {
              state: 'failed',
              error: new ToolError('UNKNOWN', {
                message: `${toolName}: the status of "${reference}" is none of doneWhen, failedWhen, pendingWhen (${describe(poll.doneWhen, res.data)})`,
              }),
            };
          },
        }
      : {}),
  };
}
