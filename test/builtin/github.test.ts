import { builtinIntegrationConfig, GitHubStub, runTool, verifyTool } from '../kit';

/** The GitHub REST tools against the GitHub stub. */
let stub: GitHubStub;
beforeAll(async () => {
  stub = await GitHubStub.start();
  stub.seedIssues('octo', 'kit', 250, (n) => ({ labels: n % 2 === 0 ? ['bug'] : [], state: n % 10 === 0 ? 'closed' : 'open' }));
});
afterAll(() => stub.close());

const run = (tool: string, input: unknown, extra: Partial<Parameters<typeof runTool>[0]> = {}) =>
  runTool({ config: { integrations: { github: builtinIntegrationConfig('github', stub.url) } }, tool, input, ...extra });
const last = () => stub.requests.at(-1)!;

describe('github built-in tools', () => {
  it('createIssue posts JSON with the token as Bearer and the pinned X-GitHub-Api-Version', async () => {
    const out = await run(
      'github.createIssue',
      { owner: 'octo', repo: 'kit', title: 'Broken build', body: 'It fails', labels: ['bug'], assignees: ['hubot'] },
      { jobId: 'job_gh_post' },
    );
    expect(out).toMatchObject({
      number: 251,
      title: 'Broken build',
      body: 'It fails',
      state: 'open',
      labels: ['bug'],
      assignees: ['hubot'],
      user: 'octocat',
      is_pull_request: false,
    });
    expect(last()).toMatchObject({ method: 'POST', path: '/repos/octo/kit/issues' });
    expect(last().headers).toMatchObject({ authorization: 'Bearer ghp_kit', 'x-github-api-version': '2022-11-28', accept: 'application/vnd.github+json' });
    expect(JSON.parse(last().body)).toEqual({ title: 'Broken build', body: 'It fails\n\n<!-- broker-reference: job_gh_post -->', labels: ['bug'], assignees: ['hubot'] });
  });

  it("keeps GitHub's 422 message (VALIDATION_ERROR) and answers NOT_FOUND for an unknown repository", async () => {
    await expect(run('github.createIssue', { owner: 'octo', repo: 'nope', title: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
  });

  it('getIssue reads one issue in the compact shape', async () => {
    const out = await run('github.getIssue', { owner: 'octo', repo: 'kit', issue_number: 10 });
    expect(out).toMatchObject({ number: 10, state: 'closed', labels: ['bug'], html_url: 'https://github.com/octo/kit/issues/10' });
    expect(Object.keys(out as object)).not.toContain('reactions');
    await expect(run('github.getIssue', { owner: 'octo', repo: 'kit', issue_number: 9999 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('listIssues follows the Link header across pages, reporting progress per page', async () => {
    const progress: unknown[] = [];
    const out = (await run('github.listIssues', { owner: 'octo', repo: 'kit', state: 'all' }, { progress })) as {
      issues: { number: number }[];
      pages: number;
      truncated: boolean;
      nextPage: number | null;
    };
    expect(out).toMatchObject({ pages: 3, truncated: false, nextPage: null });
    expect(out.issues).toHaveLength(251);
    expect(new Set(out.issues.map((i) => i.number)).size).toBe(251);
    expect(progress).toEqual([
      { page: 1, records: 100 },
      { page: 2, records: 200 },
      { page: 3, records: 251 },
    ]);
  });

  it('listIssues stops at maxRecords and says which page resumes', async () => {
    const out = (await run('github.listIssues', { owner: 'octo', repo: 'kit', labels: ['bug'], maxRecords: 30 })) as {
      issues: { labels: string[] }[];
      truncated: boolean;
      nextPage: number;
    };
    expect(out).toMatchObject({ truncated: true, nextPage: 2 });
    expect(out.issues).toHaveLength(30);
    expect(out.issues.every((i) => i.labels.includes('bug'))).toBe(true);
    expect(last().query.get('per_page')).toBe('30');
    expect(last().query.get('labels')).toBe('bug');
    const rest = (await run('github.listIssues', { owner: 'octo', repo: 'kit', labels: ['bug'], maxRecords: 30, page: 2 })) as { issues: unknown[] };
    expect(rest.issues).toHaveLength(30);
  });

  it('reports a version GitHub does not support as VALIDATION_ERROR', async () => {
    await expect(
      runTool({
        config: { integrations: { github: builtinIntegrationConfig('github', stub.url, { apiVersion: { header: 'X-GitHub-Api-Version', value: '2019-01-01' } }) } },
        tool: 'github.getIssue',
        input: { owner: 'octo', repo: 'kit', issue_number: 1 },
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining("API version '2019-01-01' is not supported") });
  });

  // A dot segment in the path is resolved away by the URL parser: /repos/../../issues would be GET /issues, with the token.
  it.each<[string, Record<string, unknown>, string]>([
    ['github.listIssues', { owner: '..', repo: '..' }, '/owner'],
    ['github.getIssue', { owner: 'octo', repo: '.', issue_number: 1 }, '/repo'],
    ['github.createIssue', { owner: '.', repo: 'kit', title: 'x' }, '/owner'],
    ['github.exportRepositories', { org: '..', repositories: ['kit'] }, '/org'],
  ])('%s refuses "." and ".." as a name at validation (a 422 at submit), and sends nothing', async (tool, input, pointer) => {
    const before = stub.count();
    await expect(run(tool, input)).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining(pointer) });
    expect(stub.count()).toBe(before);
  });
});

/** ISO 8601 in whole seconds, as GitHub writes `created_at`. */
const githubTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('github.createIssue carries its job id, and verify finds an earlier try by it', () => {
  const config = () => ({ integrations: { github: builtinIntegrationConfig('github', stub.url) } });
  const verify = (repo: string, jobId: string, submittedAt: number) =>
    verifyTool({ config: config(), tool: 'github.createIssue', input: { owner: 'octo', repo, title: 'Lost answer' }, jobId, submittedAt });
  const listings = (repo: string) => stub.requests.filter((r) => r.method === 'GET' && r.path === `/repos/octo/${repo}/issues`);
  const now = Date.now();

  beforeAll(() => {
    stub.seedIssues('octo', 'ref', 5);
    // busy: 30 issues from January, then 230 opened over the last 230 s (newest first: #260 … #31, then January).
    stub.seedIssues('octo', 'busy', 260, (n) => ({
      ...(n > 30 ? { created_at: githubTime(now - (261 - n) * 1000) } : {}),
      ...(n === 100 ? { body: 'Found on page two\n\n<!-- broker-reference: job_gh_page2 -->' } : {}),
    }));
    // flood: more issues opened since the submission than a lookup reads.
    stub.seedIssues('octo', 'flood', 1001, (n) => ({ created_at: githubTime(now - (1002 - n) * 100) }));
  });

  it('puts the reference in the body as an invisible HTML comment, and returns the body as the agent wrote it', async () => {
    const withBody = await run('github.createIssue', { owner: 'octo', repo: 'ref', title: 'With a body', body: 'Steps:\n1. run it' }, { jobId: 'job_gh_body' });
    expect(JSON.parse(last().body)).toMatchObject({ body: 'Steps:\n1. run it\n\n<!-- broker-reference: job_gh_body -->' });
    expect(withBody).toMatchObject({ body: 'Steps:\n1. run it' });
    const bare = await run('github.createIssue', { owner: 'octo', repo: 'ref', title: 'No body' }, { jobId: 'job_gh_bare' });
    expect(JSON.parse(last().body)).toEqual({ title: 'No body', body: '<!-- broker-reference: job_gh_bare -->' });
    expect(bare).toMatchObject({ body: null });
    // Read back by the other tools, the marker stays invisible too.
    await expect(run('github.getIssue', { owner: 'octo', repo: 'ref', issue_number: (bare as { number: number }).number })).resolves.toMatchObject({ body: null });
  });

  it('finds the issue a run opened, the same as the run returned, and nothing for another job', async () => {
    const submittedAt = Date.now() - 1000;
    const opened = await run('github.createIssue', { owner: 'octo', repo: 'ref', title: 'Lost answer', body: 'Where did it go' }, { jobId: 'job_gh_lost', submittedAt });
    await expect(verify('ref', 'job_gh_lost', submittedAt)).resolves.toEqual({ found: true, output: opened });
    const before = listings('ref').length;
    await expect(verify('ref', 'job_gh_never_sent', submittedAt)).resolves.toEqual({ found: false });
    // Newest first, every state: the first page already reaches issues from before the submission.
    const read = listings('ref').slice(before);
    expect(read).toHaveLength(1);
    expect(Object.fromEntries(read[0]!.query)).toEqual({ state: 'all', sort: 'created', direction: 'desc', per_page: '100' });
  });

  it('reads on through pages of newer issues, and calls it absent at the first one older than the submission', async () => {
    const before = listings('busy').length;
    // Submitted a minute ago: issues up to 4 minutes old are still within the clock-skew margin.
    await expect(verify('busy', 'job_gh_absent', now - 60_000)).resolves.toEqual({ found: false });
    const read = listings('busy').slice(before);
    expect(read.map((r) => r.query.get('page'))).toEqual([null, '2', '3']);
    expect(read.every((r) => r.query.get('sort') === 'created' && r.query.get('direction') === 'desc' && r.query.get('state') === 'all')).toBe(true);
  });

  it('finds an earlier try on a later page', async () => {
    const before = listings('busy').length;
    await expect(verify('busy', 'job_gh_page2', now - 60_000)).resolves.toEqual({ found: true, output: expect.objectContaining({ number: 100, body: 'Found on page two' }) });
    expect(listings('busy').length - before).toBe(2);
  });

  it('gives up after 10 pages of issues newer than the submission: it cannot tell, it does not guess', async () => {
    const before = listings('flood').length;
    await expect(verify('flood', 'job_gh_flood', now - 60_000)).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN', message: expect.stringContaining('cannot tell') });
    expect(listings('flood').length - before).toBe(10);
  });

  it('throws when a page fails (a 5xx) or the repository is gone (a 404): neither is "absent"', async () => {
    stub.inject(502, { match: (r) => r.path === '/repos/octo/busy/issues' && r.query.get('page') === '2' });
    await expect(verify('busy', 'job_gh_absent', now - 60_000)).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 502 });
    await expect(verify('gone', 'job_gh_absent', now - 60_000)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
