import { linkHeaderPages } from '../../pagination';
import { ToolError } from '../../tool-error';
import type { EarlierEffect, IntegrationHttp } from '../../types';
import { referenceMarker } from './reference-marker';
import { githubHeaders, repoPath, toIssue, type Issue, type RawIssue } from './schemas';

/** GitHub's largest page. */
const PER_PAGE = 100;
/**
 * Pages read before giving up: 1,000 issues opened since the job was
 * submitted is a busier repository than a lookup should scan, and saying
 * "cannot tell" (OUTCOME_UNKNOWN) is safe where guessing "absent" is not.
 */
export const MAX_LOOKUP_PAGES = 10;
/**
 * `created_at` is GitHub's clock and `submittedAt` ours: an issue of this job
 * cannot be older than the submission, give or take this much skew.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface IssueLookup {
  owner: string;
  repo: string;
  reference: string;
  /** When the job was submitted (epoch ms). */
  submittedAt: number;
  apiVersion: string | null;
}

function rawIssuesOf(data: unknown): RawIssue[] {
  if (!Array.isArray(data)) throw new ToolError('UNKNOWN', { message: 'GitHub answered a page of issues that is not a list' });
  return data as RawIssue[];
}

/**
 * Finds the issue an earlier try opened, by the reference marker in its body.
 *
 * The search API would find it in one call, but GitHub's search index lags
 * writes by seconds to minutes, so "no result" there would not mean absent.
 * The repository's issue list is read from GitHub's database instead, newest
 * first (`sort=created&direction=desc`, every state, pull requests included),
 * following the `Link` header: the first issue older than the job's
 * submission (less the clock skew) proves nothing later in the list can be
 * ours, so the listing stops there — usually on the first page.
 */
export async function findIssueByReference(http: IntegrationHttp, lookup: IssueLookup): Promise<EarlierEffect<Issue>> {
  const marker = referenceMarker(lookup.reference);
  const oldestPossible = lookup.submittedAt - CLOCK_SKEW_MS;
  const fetchPage = linkHeaderPages(
    http,
    {
      method: 'GET',
      path: repoPath(lookup.owner, lookup.repo, '/issues'),
      headers: githubHeaders(lookup.apiVersion),
      query: { state: 'all', sort: 'created', direction: 'desc', per_page: String(PER_PAGE) },
    },
    rawIssuesOf,
  );
  let cursor: Record<string, string> | undefined;
  for (let page = 1; page <= MAX_LOOKUP_PAGES; page++) {
    const { items, next } = await fetchPage(cursor, PER_PAGE);
    for (const raw of items) {
      if (typeof raw.body === 'string' && raw.body.includes(marker)) return { found: true, output: toIssue(raw) };
      if (Date.parse(raw.created_at) < oldestPossible) return { found: false };
    }
    if (next === undefined) return { found: false };
    cursor = next;
  }
  throw new ToolError('OUTCOME_UNKNOWN', {
    message: `read ${MAX_LOOKUP_PAGES * PER_PAGE} issues of ${lookup.owner}/${lookup.repo} opened since the job was submitted without finding reference ${lookup.reference}, and stopped: cannot tell whether an earlier try opened it`,
  });
}
