import { randomBytes } from 'node:crypto';
import type { StubReply, StubRequest } from '../helpers/stub-server';
import { KitStub } from './kit-stub';

export interface GitHubStubOptions {
  /** The token accepted as `Authorization: Bearer <token>` (or `token <token>`). @defaultValue "ghp_kit" */
  token?: string;
  /** API versions accepted in `X-GitHub-Api-Version`. @defaultValue ["2022-11-28", "2026-03-10"] */
  versions?: string[];
  /** The primary rate limit per hour window. @defaultValue 5000 */
  rateLimit?: number;
}

interface Repo {
  id: number;
  issues: Record<string, unknown>[];
}

const DOCS = 'https://docs.github.com/rest/issues/issues';

/**
 * Plays GitHub's REST issues API: `Bearer` tokens, `X-GitHub-Api-Version`
 * checked against the supported versions, lists filtered by `state`/`labels`
 * and ordered by `sort`/`direction` (newest created first by default), an
 * issue opened now stamped now, `per_page`/`page` pagination with a
 * `Link` header whose URLs use GitHub's `/repositories/{id}/…` form, the
 * `x-ratelimit-*` headers, and GitHub's error bodies
 * (`{"message","documentation_url","status"}`, 422 `errors[]`).
 */
export class GitHubStub extends KitStub {
  readonly repos = new Map<string, Repo>();
  private remaining: number;
  private readonly resetAt = Math.floor(Date.now() / 1000) + 3600;

  private constructor(private readonly options: GitHubStubOptions) {
    super();
    this.remaining = options.rateLimit ?? 5000;
  }

  static start(options: GitHubStubOptions = {}): Promise<GitHubStub> {
    return KitStub.listen(new GitHubStub(options));
  }

  /**
   * Creates `owner/repo` with `count` more issues, numbered on from the last,
   * created an hour apart from 2026-01-01 (a `created_at` in `fields` wins).
   */
  seedIssues(owner: string, repo: string, count: number, fields: (n: number) => Record<string, unknown> = () => ({})): void {
    const r = this.repo(owner, repo, true)!;
    for (let i = 0; i < count; i++) {
      const n = r.issues.length + 1;
      this.addIssue(owner, repo, r, { title: `Issue ${n}`, ...fields(n) }, new Date(Date.UTC(2026, 0, 1) + n * 3_600_000));
    }
  }

  protected errorReply(status: number, message: string, extra: Record<string, unknown> = {}): StubReply {
    return {
      status,
      headers: this.rateHeaders(),
      body: {
        message: status === 429 ? 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' : message,
        documentation_url: 'https://docs.github.com/rest',
        status: String(status),
        ...extra,
      },
    };
  }

  protected authorize(req: StubRequest): StubReply | undefined {
    const token = this.options.token ?? 'ghp_kit';
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${token}` && auth !== `token ${token}`) return this.errorReply(401, auth ? 'Bad credentials' : 'Requires authentication');
    const version = req.headers['x-github-api-version'];
    const supported = this.options.versions ?? ['2022-11-28', '2026-03-10'];
    if (typeof version === 'string' && !supported.includes(version)) {
      return this.errorReply(400, `API version '${version}' is not supported.`, { documentation_url: 'https://docs.github.com/rest/overview/api-versions' });
    }
    return undefined;
  }

  protected route(req: StubRequest): StubReply {
    if (this.remaining <= 0) return { ...this.errorReply(403, 'API rate limit exceeded for user.'), headers: this.rateHeaders() };
    this.remaining -= 1;
    const byName = /^\/repos\/([^/]+)\/([^/]+)\/issues(?:\/(\d+))?$/.exec(req.path);
    const byId = /^\/repositories\/(\d+)\/issues$/.exec(req.path);
    let repoName: string | undefined;
    let repo: Repo | undefined;
    if (byName) {
      repoName = `${decodeURIComponent(byName[1]!)}/${decodeURIComponent(byName[2]!)}`;
      repo = this.repos.get(repoName.toLowerCase());
    } else if (byId) {
      for (const [name, r] of this.repos) if (String(r.id) === byId[1]) [repoName, repo] = [name, r];
    }
    if (!repo || !repoName) return this.errorReply(404, 'Not Found', { documentation_url: `${DOCS}#list-repository-issues` });
    const number = byName?.[3];
    if (number !== undefined) {
      if (req.method !== 'GET') return this.errorReply(404, 'Not Found');
      const issue = repo.issues.find((i) => i.number === Number(number));
      return issue ? this.ok(200, issue) : this.errorReply(404, 'Not Found', { documentation_url: `${DOCS}#get-an-issue` });
    }
    if (req.method === 'POST' && byName) return this.create(req, repoName, repo);
    if (req.method === 'GET') return this.list(req, repo);
    return this.errorReply(404, 'Not Found');
  }

  private create(req: StubRequest, name: string, repo: Repo): StubReply {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body || '{}') as Record<string, unknown>;
    } catch {
      return this.errorReply(400, 'Problems parsing JSON');
    }
    if (typeof body.title !== 'string' || body.title === '') {
      return this.errorReply(422, 'Validation Failed', { errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }], documentation_url: `${DOCS}#create-an-issue` });
    }
    const [owner, repoName] = name.split('/') as [string, string];
    return this.ok(201, this.addIssue(owner, repoName, repo, body, new Date()));
  }

  private list(req: StubRequest, repo: Repo): StubReply {
    const state = req.query.get('state') ?? 'open';
    const labels = req.query.get('labels')?.split(',').filter(Boolean) ?? [];
    const perPage = Math.min(100, Math.max(1, Number(req.query.get('per_page') ?? 30)));
    const page = Math.max(1, Number(req.query.get('page') ?? 1));
    let list = repo.issues.filter((i) => state === 'all' || i.state === state);
    if (labels.length > 0) list = list.filter((i) => labels.every((l) => (i.labels as { name: string }[]).some((x) => x.name === l)));
    // GitHub's defaults: newest created first. Equal keys (timestamps are whole seconds) keep creation order.
    const key = ({ updated: 'updated_at', comments: 'comments' } as Record<string, string>)[req.query.get('sort') ?? ''] ?? 'created_at';
    const ascending = req.query.get('direction') === 'asc';
    const order = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      (key === 'comments' ? Number(a[key]) - Number(b[key]) : String(a[key]).localeCompare(String(b[key]))) || Number(a.number) - Number(b.number);
    list = [...list].sort((a, b) => (ascending ? 1 : -1) * order(a, b));
    const last = Math.max(1, Math.ceil(list.length / perPage));
    const pageItems = list.slice((page - 1) * perPage, page * perPage);
    // GitHub writes links with the repository's id, and keeps every query parameter.
    const link = (p: number) => {
      const q = new URLSearchParams(req.query);
      q.set('page', String(p));
      return `<${this.url}/repositories/${repo.id}/issues?${q.toString()}>`;
    };
    const rels: string[] = [];
    if (page < last) rels.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) rels.push(`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`);
    const reply = this.ok(200, pageItems);
    return rels.length > 0 ? { ...reply, headers: { ...reply.headers, link: rels.join(', ') } } : reply;
  }

  private ok(status: number, body: unknown): StubReply {
    return { status, headers: { ...this.rateHeaders(), 'x-github-request-id': randomBytes(8).toString('hex').toUpperCase() }, body };
  }

  private rateHeaders(): Record<string, string> {
    const limit = this.options.rateLimit ?? 5000;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, this.remaining)),
      'x-ratelimit-used': String(limit - Math.max(0, this.remaining)),
      'x-ratelimit-reset': String(this.resetAt),
      'x-ratelimit-resource': 'core',
    };
  }

  private repo(owner: string, name: string, create: boolean): Repo | undefined {
    const key = `${owner}/${name}`.toLowerCase();
    let repo = this.repos.get(key);
    if (!repo && create) {
      repo = { id: 100000 + this.repos.size + 1, issues: [] };
      this.repos.set(key, repo);
    }
    return repo;
  }

  /** GitHub writes timestamps in whole seconds, e.g. `2026-01-01T01:00:00Z`. */
  private addIssue(owner: string, repoName: string, repo: Repo, fields: Record<string, unknown>, createdAt: Date): Record<string, unknown> {
    const number = repo.issues.length + 1;
    const at = createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const { labels, assignees, ...rest } = fields as { labels?: string[]; assignees?: string[] };
    const api = `${this.url}/repos/${owner}/${repoName}`;
    const issue: Record<string, unknown> = {
      url: `${api}/issues/${number}`,
      repository_url: api,
      html_url: `https://github.com/${owner}/${repoName}/issues/${number}`,
      id: 2_000_000_000 + repo.id * 1000 + number,
      node_id: `I_kw${randomBytes(6).toString('base64url')}`,
      number,
      title: '',
      body: null,
      user: { login: 'octocat', id: 1, type: 'User', site_admin: false },
      labels: (labels ?? []).map((name, i) => ({ id: 1000 + i, name, color: 'ededed', default: false })),
      state: 'open',
      state_reason: null,
      locked: false,
      assignee: assignees?.[0] ? { login: assignees[0], id: 2 } : null,
      assignees: (assignees ?? []).map((login, i) => ({ login, id: 2 + i })),
      milestone: null,
      comments: 0,
      created_at: at,
      updated_at: at,
      closed_at: null,
      author_association: 'OWNER',
      reactions: { total_count: 0, '+1': 0, '-1': 0 },
      ...rest,
    };
    repo.issues.push(issue);
    return issue;
  }
}
