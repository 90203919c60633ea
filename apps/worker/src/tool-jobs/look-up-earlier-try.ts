import { ToolError, type EarlierEffect, type RunnableTool, type ToolContext, type ToolErrorOptions } from '@broker/tools';
import { CallHeldBack } from './call-held-back';
import { ClaimLost } from './claim-lost';

/**
 * What the lookup's own failure says about the upstream, kept on the
 * OUTCOME_UNKNOWN it becomes: the breaker judges the upstream's health by
 * them (a 403 shows it alive, a 503 or a timeout may not), and the retry
 * decision pauses callers by them (a 503's Retry-After).
 */
function factsOf(err: ToolError): Pick<ToolErrorOptions, 'upstreamStatus' | 'retryAfterMs' | 'requestId' | 'stage'> {
  return {
    ...(err.upstreamStatus !== undefined ? { upstreamStatus: err.upstreamStatus } : {}),
    ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
    ...(err.requestId !== undefined ? { requestId: err.requestId } : {}),
    ...(err.stage !== undefined ? { stage: err.stage } : {}),
  };
}

/**
 * Asks the upstream what an earlier try of this unkeyed write did, by the
 * reference every try carries (the tool's `verify`; docs/configuration.md#writes-without-an-idempotency-key-reference-and-verify). Found or
 * cleanly absent are answers. A lookup held back or throttled (the gate, a
 * 429, an open circuit), one that never left (credentials, secrets), or one
 * fenced out by a later claim proves nothing either way: those errors pass
 * through, and the job's next run asks again. Anything else means we cannot tell, and the
 * write is not sent again: OUTCOME_UNKNOWN.
 */
export async function lookUpEarlierTry(tool: RunnableTool, input: unknown, ctx: ToolContext): Promise<EarlierEffect> {
  try {
    return await tool.verify!(input, ctx);
  } catch (err) {
    if (err instanceof CallHeldBack || err instanceof ClaimLost) throw err;
    if (err instanceof ToolError && (err.code === 'RATE_LIMITED' || err.code === 'CIRCUIT_OPEN')) throw err;
    // Nothing reached the upstream (credentials, the secrets provider, Redis for the gate): ask again later.
    if (err instanceof ToolError && err.stage === 'prepare') throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ToolError('OUTCOME_UNKNOWN', {
      message: `an earlier try of this write may have reached the upstream, and looking it up by its reference (${ctx.jobId}) could not tell (${why}); it is not sent again`,
      retryable: false,
      ...(err instanceof ToolError ? factsOf(err) : {}),
      cause: err,
    });
  }
}
