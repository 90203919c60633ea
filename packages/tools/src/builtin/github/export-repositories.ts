import { pending, type StatusCheck } from '../../async/pending';
import { pathSegment } from '../../declared/fill-path';
import { implementTool } from '../../define-tool';
import { ToolError } from '../../tool-error';
import { githubDescriptors } from './descriptors';
import { githubHeaders, type Migration } from './schemas';

interface RawMigration {
  id: number;
  guid?: string;
  state?: string;
  url?: string;
  repositories?: { full_name?: string }[];
  created_at?: string;
  updated_at?: string;
}

const migrationPath = (name: string, id?: string) => `/orgs/${pathSegment(name, 'org')}/migrations${id ? `/${pathSegment(id, 'reference')}` : ''}`;

function toMigration(raw: unknown, orgName: string): Migration {
  const r = raw as RawMigration;
  if (!r || typeof r.id !== 'number') throw new ToolError('UNKNOWN', { message: 'GitHub answered a migration without an id' });
  return {
    id: r.id,
    guid: r.guid ?? '',
    state: r.state ?? 'unknown',
    repositories: (r.repositories ?? []).map((repo) => repo.full_name ?? ''),
    archive_url: `${r.url ?? `https://api.github.com${migrationPath(orgName, String(r.id))}`}/archive`,
    created_at: r.created_at ?? '',
    updated_at: r.updated_at ?? '',
  };
}

function verdict(m: Migration): StatusCheck<Migration> {
  if (m.state === 'exported') return { state: 'done', output: m };
  if (m.state === 'failed') {
    return { state: 'failed', error: new ToolError('UPSTREAM_ERROR', { message: `GitHub migration ${m.id} failed to export`, retryable: false }) };
  }
  return { state: 'pending', progress: { state: m.state } };
}

/**
 * POST /orgs/{org}/migrations, then GET /orgs/{org}/migrations/{id} until the
 * export is done (https://docs.github.com/rest/migrations/orgs). An export
 * takes minutes to hours: the job stays running and is checked with backoff.
 */
export const exportRepositories = implementTool(githubDescriptors.exportRepositories, {
  async run({ org: orgName, deadlineMinutes, ...body }, ctx, { apiVersion }) {
    const res = await ctx.http.request({ method: 'POST', path: migrationPath(orgName), headers: githubHeaders(apiVersion), json: body });
    const started = toMigration(res.data, orgName);
    const now = verdict(started);
    if (now.state === 'done') return now.output;
    if (now.state === 'failed') throw now.error;
    return pending(started.id, { poll: { intervalMs: 10_000, maxIntervalMs: 120_000 }, deadlineMs: deadlineMinutes * 60_000, progress: now.progress });
  },
  async checkStatus(reference, input, ctx, { apiVersion }) {
    const res = await ctx.http.request({ method: 'GET', path: migrationPath(input.org, reference), headers: githubHeaders(apiVersion) });
    return verdict(toMigration(res.data, input.org));
  },
});
