import { z } from 'zod';
import { pathSegment } from '../../declared/fill-path';
import { withoutReference } from './reference-marker';

/** https://docs.github.com/rest/about-the-rest-api/api-versions */
export const GITHUB_API_VERSION = '2022-11-28';

/** What GitHub asks every REST call to send: its media type and the pinned version. */
export const githubHeaders = (apiVersion: string | null): Record<string, string> => ({
  accept: 'application/vnd.github+json',
  'x-github-api-version': apiVersion ?? GITHUB_API_VERSION,
});

/**
 * GitHub's name characters, without "." and "..": names go into the path, where
 * a dot segment would be resolved away (`/repos/../../issues` is `GET /issues`).
 * GitHub allows neither as a name.
 */
const githubName = (what: string) => z.string().regex(/^(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$/, what);

const name = githubName('a GitHub owner or repository name');
export const repoRef = { owner: name.describe('Account or organization, e.g. "octocat"'), repo: name.describe('Repository name, e.g. "hello-world"') };

export const repoPath = (owner: string, repo: string, rest = '') => `/repos/${pathSegment(owner, 'owner')}/${pathSegment(repo, 'repo')}${rest}`;

/**
 * An issue as agents get it: GitHub's own field names, without the dozens of
 * API URLs and nested user objects each issue carries (a page of 100 raw
 * issues is about half a megabyte).
 */
export const issue = z.object({
  id: z.int(),
  number: z.int(),
  title: z.string(),
  state: z.string().describe('open or closed'),
  state_reason: z.string().nullable(),
  body: z.string().nullable(),
  html_url: z.string(),
  user: z.string().nullable().describe('Login of the author'),
  labels: z.array(z.string()),
  assignees: z.array(z.string()),
  comments: z.int(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullable(),
  is_pull_request: z.boolean().describe('The issues API lists pull requests too'),
});
export type Issue = z.output<typeof issue>;

export interface RawIssue {
  id: number;
  number: number;
  title: string;
  state: string;
  state_reason?: string | null;
  body?: string | null;
  html_url: string;
  user?: { login?: string } | null;
  labels?: (string | { name?: string })[];
  assignees?: { login?: string }[] | null;
  comments?: number;
  created_at: string;
  updated_at: string;
  closed_at?: string | null;
  pull_request?: unknown;
}

/** GitHub's issue in the compact shape; a body keeps no broker reference marker (see reference-marker.ts). */
export function toIssue(raw: unknown): Issue {
  const r = raw as RawIssue;
  return {
    id: r.id,
    number: r.number,
    title: r.title,
    state: r.state,
    state_reason: r.state_reason ?? null,
    body: withoutReference(r.body ?? null),
    html_url: r.html_url,
    user: r.user?.login ?? null,
    labels: (r.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? ''))),
    assignees: (r.assignees ?? []).map((a) => a.login ?? ''),
    comments: r.comments ?? 0,
    created_at: r.created_at,
    updated_at: r.updated_at,
    closed_at: r.closed_at ?? null,
    is_pull_request: r.pull_request !== undefined && r.pull_request !== null,
  };
}

export const org = githubName('a GitHub organization name');

/** An organization migration (https://docs.github.com/rest/migrations/orgs), as `exportRepositories` returns it. */
export const migration = z.object({
  id: z.int(),
  guid: z.string(),
  state: z.string().describe('pending, exporting, exported or failed'),
  repositories: z.array(z.string()).describe('Full names of the exported repositories'),
  archive_url: z.string().describe('GET it (with the token) for a 302 to the archive; GitHub deletes it after 7 days'),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Migration = z.output<typeof migration>;
