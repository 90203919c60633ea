import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { GITHUB_API_VERSION, githubHeaders, issue, repoPath, repoRef, toIssue } from './schemas';

/** POST /repos/{owner}/{repo}/issues (https://docs.github.com/rest/issues/issues#create-an-issue). */
export const createIssue = defineTool({
  name: 'github.createIssue',
  integration: 'github',
  description:
    'Open an issue in a GitHub repository. Labels and assignees that do not exist are dropped by GitHub unless the token can create them. Returns the issue (number, html_url). Not retried after a timeout (GitHub has no idempotency keys).',
  apiVersion: GITHUB_API_VERSION,
  idempotent: false,
  input: z.strictObject({
    ...repoRef,
    title: z.string().min(1).max(256),
    body: z.string().max(65_536).optional().describe('Markdown'),
    labels: z.array(z.string().min(1)).max(100).optional(),
    assignees: z.array(z.string().min(1)).max(10).optional().describe('Logins'),
    milestone: z.int().positive().optional().describe('Milestone number'),
  }),
  output: issue,
  async run({ owner, repo, ...fields }, ctx, { apiVersion }) {
    const res = await ctx.http.request({ method: 'POST', path: repoPath(owner, repo, '/issues'), headers: githubHeaders(apiVersion), json: fields });
    return toIssue(res.data);
  },
});
