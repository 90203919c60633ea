import { implementTool } from '../../define-tool';
import { githubDescriptors } from './descriptors';
import { githubHeaders, repoPath, toIssue } from './schemas';

/** GET /repos/{owner}/{repo}/issues/{issue_number}. */
export const getIssue = implementTool(githubDescriptors.getIssue, {
  async run({ owner, repo, issue_number }, ctx, { apiVersion }) {
    const res = await ctx.http.request({ method: 'GET', path: repoPath(owner, repo, `/issues/${issue_number}`), headers: githubHeaders(apiVersion) });
    return toIssue(res.data);
  },
});
