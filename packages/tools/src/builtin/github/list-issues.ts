import { implementTool } from '../../define-tool';
import { ToolError } from '../../tool-error';
import { linkHeaderPages, paginate } from '../../pagination';
import { githubDescriptors } from './descriptors';
import { githubHeaders, repoPath, toIssue } from './schemas';

/** GitHub's largest page. */
const PER_PAGE = 100;

/** GET /repos/{owner}/{repo}/issues, every page, following the `Link` header. */
export const listIssues = implementTool(githubDescriptors.listIssues, {
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
