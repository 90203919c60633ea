import { createIssue } from './create-issue';
import { exportRepositories } from './export-repositories';
import { getIssue } from './get-issue';
import { listIssues } from './list-issues';

export { GITHUB_API_VERSION } from './schemas';
export const githubTools = [createIssue, getIssue, listIssues, exportRepositories];
