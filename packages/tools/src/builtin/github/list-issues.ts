import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { ToolError } from '../../tool-error';
import { DEFAULT_MAX_RECORDS, linkHeaderPages, paginate } from '../../pagination';
import { GITHUB_API_VERSION, githubHeaders, issue, repoPath, repoRef, toIssue } from './schemas';

/** GitHub's largest page. */
const PER_PAGE = 100;

/** GET /repos/{owner}/{repo}/issues, every page, following the `Link` header. */
export const listIssues = defineTool({
  name: 'github.listIssues',
  integration: 'github',
  description:
    `List issues of a GitHub repository (pull requests included, marked is_pull_request), newest first by default, reading every page up to maxRecords (default ${DEFAULT_MAX_RECORDS}). When more exist, truncated is true and nextPage resumes the listing.`,
  apiVersion: GITHUB_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({
    ...repoRef,
    state: z.enum(['open', 'closed', 'all']).default('open'),
    labels: z.array(z.string().min(1)).optional().describe('Only issues with every one of these labels'),
    assignee: z.string().optional().describe('A login, "none" or "*"'),
    creator: z.string().optional(),
    since: z.iso.datetime({ offset: true }).optional().describe('Only issues updated at or after this time'),
    sort: z.enum(['created', 'updated', 'comments']).optional(),
    direction: z.enum(['asc', 'desc']).optional(),
    maxRecords: z.int().min(1).max(DEFAULT_MAX_RECORDS).default(DEFAULT_MAX_RECORDS).describe('Stop after this many issues'),
    page: z.int().positive().optional().describe('Start at this page (a previous answer\'s nextPage)'),
  }),
  output: z.object({
    issues: z.array(issue),
    pages: z.int(),
    truncated: z.boolean(),
    nextPage: z.int().nullable(),
  }),
  async run(input, ctx, { apiVersion }) {
    const { owner, repo, labels, maxRecords, page, ...filters } = input;
    // The first page is never larger than the cap, so a short cap ends on a whole page.
    const perPage = Math.min(PER_PAGE, maxRecords);
    const query: Record<string, string> = { per_page: String(perPage) };
    for (const [k, v] of Object.entries(filters)) if (v !== undefined) query[k] = String(v);
    if (labels) query.labels = labels.join(',');
    const first = { method: 'GET' as const, path: repoPath(owner, repo, '/issues'), headers: githubHeaders(apiVersion), query: page ? { ...query, page: String(page) } : query };
    const issuesOf = (data: unknown) => {
      if (!Array.isArray(data)) throw new ToolError('UNKNOWN', { message: 'GitHub answered a page of issues that is not a list' });
      return data.map(toIssue);
    };
    const result = await paginate(ctx, linkHeaderPages(ctx.http, first, issuesOf), { maxRecords });
    const nextPage = result.next?.page ? Number(result.next.page) : null;
    return { issues: result.items, pages: result.pages, truncated: result.truncated, nextPage: Number.isInteger(nextPage) ? nextPage : null };
  },
});
