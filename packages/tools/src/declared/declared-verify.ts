import { readJsonPointer } from '@broker/shared/json/json-pointer';
import { REFERENCE_PLACEHOLDER, type VerifyConfig } from '@broker/shared/config/verify-schema';
import { ToolError } from '../tool-error';
import type { EarlierEffect, ToolContext } from '../types';
import { fillPath, fillQueryValue } from './fill-path';

/** Nothing there: the pointer reached no value, a null, or an empty list (a search that matched nothing). */
function absent(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

/**
 * The `verify` section of a declared tool: asks `GET path?query` (with
 * `{reference}` = the job id and the input's `{param}`s filled in) through the
 * integration's client, so the lookup is authenticated, rate-limited and
 * counted like any call. Found when `found` points at a value; cleanly absent
 * on a 404 or when it points at nothing. Any other failure is thrown: the
 * lookup cannot tell, and the worker must not resend on a guess.
 */
export function declaredVerify(spec: VerifyConfig): (input: unknown, ctx: ToolContext) => Promise<EarlierEffect> {
  return async (input, ctx) => {
    // The job id wins over an input field that happens to be called "reference".
    const values = { ...(input as Record<string, unknown>), [REFERENCE_PLACEHOLDER]: ctx.jobId };
    const { path } = fillPath(spec.path, values);
    const query = spec.query
      ? Object.fromEntries(Object.entries(spec.query).map(([key, value]) => [key, typeof value === 'string' ? fillQueryValue(value, values) : value]))
      : undefined;
    let data: unknown;
    try {
      data = (await ctx.http.request({ method: spec.method, path, ...(query ? { query } : {}) })).data;
    } catch (err) {
      // A 404 is the upstream saying there is no such thing: the earlier try left nothing.
      if (err instanceof ToolError && err.code === 'NOT_FOUND' && err.upstreamStatus === 404) return { found: false };
      throw err;
    }
    const value = readJsonPointer(data, spec.found);
    if (!absent(value)) return { found: true, output: value };
    // "Nothing there" only counts in a JSON answer: an empty body or an HTML maintenance page
    // (a proxy's 200) says nothing about the write, and must not be resent on.
    if (data === null || typeof data !== 'object') {
      throw new ToolError('UNKNOWN', { message: "the lookup's answer is not a JSON object or array: it cannot tell whether the write was applied" });
    }
    return { found: false };
  };
}
