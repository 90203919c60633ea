import fc from 'fast-check';

/*
 * Knobs (environment): FUZZ_RUNS cases per endpoint, FUZZ_SEED another seed
 * (a failure prints the seed and path that replay it), FUZZ_DEBUG prints every
 * case and a status tally, FUZZ_NO_SHRINK reports the first failure as found.
 */
import type { Harness } from '../api/harness';
import { keyspaceFingerprint, problemIssue, rawRequest, type RawResponse } from './harness';

/** One hostile request. `headers` is a flat raw list, so a header may repeat. */
export interface FuzzCase {
  method: string;
  path: string;
  headers: string[];
  body?: Buffer;
}

export interface FuzzOptions {
  /** Cases for this endpoint. */
  runs: number;
  /** Fixed, so a failure replays exactly (`seed` and `path` are printed with it). */
  seed: number;
  /**
   * An error answer that is allowed not to be problem+json: the MCP transport's
   * JSON-RPC errors, Bull Board's own API after sign-in.
   */
  foreignError?: (c: FuzzCase, res: RawResponse) => boolean;
  /** A 2xx that still refuses the request (an MCP tool error): it must not write either. */
  refusedOk?: (res: RawResponse) => boolean;
}

/** Running totals for the report printed after a suite. */
export const tally = { cases: 0, rejected: 0, accepted: 0, byEndpoint: new Map<string, number>(), byStatus: new Map<string, number>() };

/** Prints the suite's totals (and, with FUZZ_DEBUG, the count of each status). */
export function reportTally(suite: string): void {
  if (process.env.FUZZ_DEBUG)
    console.log(
      [...tally.byStatus]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    );
  console.log(`${suite}: ${tally.cases} cases (${tally.rejected} rejected, ${tally.accepted} accepted): ${[...tally.byEndpoint].map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

/** Builds the raw header list: the arbitrary's pieces in order, undefined ones left out. */
export function headerList(pairs: Array<[string, string | undefined]>, extra: string[] = []): string[] {
  const out: string[] = [];
  for (const [name, value] of pairs) if (value !== undefined) out.push(name, value);
  return [...out, ...extra];
}

function describeCase(c: FuzzCase): string {
  const headers: string[] = [];
  for (let i = 0; i < c.headers.length; i += 2) headers.push(`${c.headers[i]}: ${String(c.headers[i + 1]).slice(0, 120)}`);
  const body = c.body ? `${c.body.length} bytes: ${c.body.subarray(0, 300).toString('utf8')}` : '(none)';
  return `${c.method} ${c.path.slice(0, 300)}\n${headers.join('\n')}\nbody ${body}`;
}

/**
 * Sends every case and checks the invariants of hostile input:
 * - never a 5xx, never a dropped connection or a hang (10 s);
 * - every error answer is problem+json with a `code` (unless `foreignError`);
 * - an error answer leaves Redis exactly as it was (the fingerprint covers
 *   every key, its type and size, and each stream's last id).
 */
export async function fuzzEndpoint(h: Harness, name: string, cases: fc.Arbitrary<FuzzCase>, options: FuzzOptions): Promise<void> {
  let before = await keyspaceFingerprint(h.redis, h.prefix);
  const property = fc.asyncProperty(cases, async (c) => {
    let res: RawResponse;
    try {
      res = await rawRequest(h, { method: c.method, path: c.path, headers: c.headers, ...(c.body ? { body: c.body } : {}) });
    } catch (err) {
      throw new Error(`${name}: no answer (${(err as Error).message})\n${describeCase(c)}`, { cause: err });
    }
    tally.cases++;
    if (process.env.FUZZ_DEBUG) console.log(`${res.status} ${c.method} ${c.path.slice(0, 80)} ${JSON.stringify(c.headers).slice(0, 200)} → ${res.text.slice(0, 200)}`);
    tally.byEndpoint.set(name, (tally.byEndpoint.get(name) ?? 0) + 1);
    const statusKey = `${name} ${res.status}`;
    tally.byStatus.set(statusKey, (tally.byStatus.get(statusKey) ?? 0) + 1);
    if (res.status >= 500) throw new Error(`${name}: ${res.status} ${res.text.slice(0, 300)}\n${describeCase(c)}`);
    const after = await keyspaceFingerprint(h.redis, h.prefix);
    if (res.status >= 400) {
      tally.rejected++;
      const issue = c.method === 'HEAD' ? undefined : problemIssue(res);
      if (issue && !options.foreignError?.(c, res)) throw new Error(`${name}: ${res.status} ${issue}\n${describeCase(c)}`);
      if (after !== before)
        throw new Error(`${name}: a rejected request (${res.status} ${res.text.slice(0, 200)}) changed Redis\n${describeCase(c)}\n--- before\n${before}\n--- after\n${after}`);
    } else if (options.refusedOk?.(res)) {
      tally.rejected++;
      if (after !== before)
        throw new Error(`${name}: a refused request (${res.status} ${res.text.slice(0, 300)}) changed Redis\n${describeCase(c)}\n--- before\n${before}\n--- after\n${after}`);
    } else {
      tally.accepted++;
    }
    before = after;
  });
  await fc.assert(property, {
    numRuns: options.runs,
    seed: Number(process.env.FUZZ_SEED ?? options.seed),
    interruptAfterTimeLimit: 20_000,
    markInterruptAsFailure: false,
    endOnFailure: Boolean(process.env.FUZZ_NO_SHRINK),
  });
}

/** Every own property Object/Array/Function prototypes have, to compare before and after a run. */
export function prototypeSnapshot(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) => Reflect.ownKeys(p).map(String).sort().join(',')).join('|');
}

/** Throws if anything reached the shared prototypes. */
export function assertNoPollution(snapshot: string): void {
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'isAdmin', 'admin', 'x', 'a', '1']) {
    if (probe[key] !== undefined) throw new Error(`Object.prototype.${key} is set: ${String(probe[key])}`);
  }
  if (prototypeSnapshot() !== snapshot) throw new Error('a built-in prototype gained or lost a property during the run');
}

/** Unhandled rejections and uncaught exceptions seen while a suite runs (either would crash a production process). */
export function crashWatch(): { seen: string[]; stop(): void } {
  const seen: string[] = [];
  const onRejection = (reason: unknown) => seen.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  const onException = (err: Error) => seen.push(`uncaughtException: ${err.stack ?? err.message}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    seen,
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
