import { implementTool } from '../../define-tool';
import { githubDescriptors } from './descriptors';
import { findIssueByReference } from './find-issue-by-reference';
import { withReference } from './reference-marker';
import { githubHeaders, repoPath, toIssue } from './schemas';

/**
 * POST /repos/{owner}/{repo}/issues (https://docs.github.com/rest/issues/issues#create-an-issue).
 * GitHub has no idempotency keys: every try carries the job id in the body
 * (an invisible HTML comment), and `verify` finds an earlier try's issue by it.
 */
export const createIssue = implementTool(githubDescriptors.createIssue, {
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
