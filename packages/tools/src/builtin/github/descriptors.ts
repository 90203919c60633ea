import { z } from 'zod';
import { describeTool } from '../../describe-tool';
import { DEFAULT_MAX_RECORDS } from '../../list-limits';
import { GITHUB_API_VERSION, issue, migration, org, repoRef } from './schemas';

/** The GitHub tools as the api lists and validates them; each file of this folder implements one. */
export const githubDescriptors = {
  createIssue: describeTool({
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
  }),

  getIssue: describeTool({
    name: 'github.getIssue',
    integration: 'github',
    description: 'Fetch one issue (or pull request) of a GitHub repository by number. Fails NOT_FOUND for an unknown number or a repository the token cannot see.',
    apiVersion: GITHUB_API_VERSION,
    idempotent: true,
    write: false,
    input: z.strictObject({ ...repoRef, issue_number: z.int().positive() }),
    output: issue,
  }),

  listIssues: describeTool({
    name: 'github.listIssues',
    integration: 'github',
    description: `List issues of a GitHub repository (pull requests included, marked is_pull_request), newest first by default, reading every page up to maxRecords (default ${DEFAULT_MAX_RECORDS}). When more exist, truncated is true and nextPage resumes the listing.`,
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
      page: z.int().positive().optional().describe("Start at this page (a previous answer's nextPage)"),
    }),
    output: z.object({
      issues: z.array(issue),
      pages: z.int(),
      truncated: z.boolean(),
      nextPage: z.int().nullable(),
    }),
  }),

  exportRepositories: describeTool({
    name: 'github.exportRepositories',
    integration: 'github',
    description:
      'Export repositories of a GitHub organization to a migration archive and wait until it is ready. The job stays running (progress.reference = the migration id, progress.upstream.state = pending or exporting) and succeeds with the migration, whose archive_url downloads the archive; TIMEOUT after `deadlineMinutes` (default 120). Not retried after a timeout (GitHub has no idempotency keys).',
    apiVersion: GITHUB_API_VERSION,
    idempotent: false,
    input: z.strictObject({
      org: org.describe('The organization, e.g. "octo-org"'),
      repositories: z
        .array(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/))
        .min(1)
        .max(100)
        .describe('Repository names in the organization'),
      lock_repositories: z.boolean().default(false).describe('Lock them during the export (for a move)'),
      exclude_attachments: z.boolean().optional(),
      exclude_releases: z.boolean().optional(),
      deadlineMinutes: z
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .default(120),
    }),
    output: migration,
  }),
};
