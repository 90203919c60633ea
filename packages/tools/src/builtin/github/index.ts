import { pairTools } from '../../define-tool';
import { createIssue } from './create-issue';
import { githubDescriptors } from './descriptors';
import { exportRepositories } from './export-repositories';
import { getIssue } from './get-issue';
import { listIssues } from './list-issues';

export { GITHUB_API_VERSION } from './schemas';
export const githubTools = pairTools(githubDescriptors, { createIssue, getIssue, listIssues, exportRepositories });
