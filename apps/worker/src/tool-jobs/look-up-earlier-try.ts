import { ToolError, type EarlierEffect, type RunnableTool, type ToolContext } from '@broker/tools';
import { CallHeldBack } from './call-held-back';

/**
 * Asks the upstream what an earlier try of this unkeyed write did, by the
 * reference every try carries (the tool's `verify`; CONTRACT §3). Found or
 * cleanly absent are answers. A lookup held back or throttled (the gate, a
 * 429, an open circuit) proves nothing either way and is asked again later,
 * so those errors pass through. Anything else means we cannot tell, and the
 * write is not sent again: OUTCOME_UNKNOWN.
 */
export async function lookUpEarlierTry(tool: RunnableTool, input: unknown, ctx: ToolContext): Promise<EarlierEffect> {
  try {
    return await tool.verify!(input, ctx);
  } catch (err) {
    if (err instanceof CallHeldBack) throw err;
    if (err instanceof ToolError && (err.code === 'RATE_LIMITED' || err.code === 'CIRCUIT_OPEN')) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ToolError('OUTCOME_UNKNOWN', {
      message: `an earlier try of this write may have reached the upstream, and looking it up by its reference (${ctx.jobId}) could not tell (${why}); it is not sent again`,
      retryable: false,
      cause: err,
    });
  }
}
