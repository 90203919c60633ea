import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { GITHUB_API_VERSION, githubHeaders, issue, repoPath, repoRef, toIssue } from './schemas';

/** GET /repos/{owner}/{repo}/issues/{issue_number}. */
export const getIssue = defineTool({
  name: 'github.getIssue',
  integration: 'github',
  description: 'Fetch one issue (or pull request) of a GitHub repository by number. Fails NOT_FOUND for an unknown number or a repository the token cannot see.',
  apiVersion: GITHUB_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({ ...repoRef, issue_number: z.int().positive() }),
  output: issue,
  async run({ owner, repo, issue_number }, ctx, { apiVersion }) {
    const res = await ctx.http.request({ method: 'GET', path: repoPath(owner, repo, `/issues/${issue_number}`), headers: githubHeaders(apiVersion) });
    return toIssue(res.data);
  },
});
