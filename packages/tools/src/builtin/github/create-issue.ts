import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { findIssueByReference } from './find-issue-by-reference';
import { withReference } from './reference-marker';
import { GITHUB_API_VERSION, githubHeaders, issue, repoPath, repoRef, toIssue } from './schemas';

/**
 * POST /repos/{owner}/{repo}/issues (https://docs.github.com/rest/issues/issues#create-an-issue).
 * GitHub has no idempotency keys: every try carries the job id in the body
 * (an invisible HTML comment), and `verify` finds an earlier try's issue by it.
 */
export const createIssue = defineTool({
  name: 'github.createIssue',
  integration: 'github',
  description:
    'Open an issue in a GitHub repository. Labels and assignees that do not exist are dropped by GitHub unless the token can create them. Returns the issue (number, html_url). GitHub has no idempotency keys: the body carries the job id in an invisible HTML comment, and a try that may have reached GitHub is looked up by it before the issue is sent again, so a retry never opens a second issue.',
  apiVersion: GITHUB_API_VERSION,
  idempotent: false,
  input: z.strictObject({
    ...repoRef,
    title: z.string().min(1).max(256),
    // Leaves room for the reference marker within GitHub's 65,536-character body.
    body: z.string().max(65_000).optional().describe('Markdown'),
    labels: z.array(z.string().min(1)).max(100).optional(),
    assignees: z.array(z.string().min(1)).max(10).optional().describe('Logins'),
    milestone: z.int().positive().optional().describe('Milestone number'),
  }),
  output: issue,
  async run({ owner, repo, body, ...fields }, ctx, { apiVersion }) {
    const res = await ctx.http.request({
      method: 'POST',
      path: repoPath(owner, repo, '/issues'),
      headers: githubHeaders(apiVersion),
      json: { ...fields, body: withReference(body, ctx.jobId) },
    });
    return toIssue(res.data);
  },
  verify({ owner, repo }, ctx, { apiVersion }) {
    return findIssueByReference(ctx.http, { owner, repo, reference: ctx.jobId, submittedAt: ctx.submittedAt, apiVersion });
  },
});
