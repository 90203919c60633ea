import { builtinIntegrationConfig, GitHubStub, runTool } from '../kit';

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
    const out = await run('github.createIssue', { owner: 'octo', repo: 'kit', title: 'Broken build', body: 'It fails', labels: ['bug'], assignees: ['hubot'] });
    expect(out).toMatchObject({ number: 251, title: 'Broken build', state: 'open', labels: ['bug'], assignees: ['hubot'], user: 'octocat', is_pull_request: false });
    expect(last()).toMatchObject({ method: 'POST', path: '/repos/octo/kit/issues' });
    expect(last().headers).toMatchObject({ authorization: 'Bearer ghp_kit', 'x-github-api-version': '2022-11-28', accept: 'application/vnd.github+json' });
    expect(JSON.parse(last().body)).toEqual({ title: 'Broken build', body: 'It fails', labels: ['bug'], assignees: ['hubot'] });
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
    const out = (await run('github.listIssues', { owner: 'octo', repo: 'kit', state: 'all' }, { progress })) as { issues: { number: number }[]; pages: number; truncated: boolean; nextPage: number | null };
    expect(out).toMatchObject({ pages: 3, truncated: false, nextPage: null });
    expect(out.issues).toHaveLength(251);
    expect(new Set(out.issues.map((i) => i.number)).size).toBe(251);
    expect(progress).toEqual([{ page: 1, records: 100 }, { page: 2, records: 200 }, { page: 3, records: 251 }]);
  });

  it('listIssues stops at maxRecords and says which page resumes', async () => {
    const out = (await run('github.listIssues', { owner: 'octo', repo: 'kit', labels: ['bug'], maxRecords: 30 })) as { issues: { labels: string[] }[]; truncated: boolean; nextPage: number };
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
      runTool({ config: { integrations: { github: builtinIntegrationConfig('github', stub.url, { apiVersion: { header: 'X-GitHub-Api-Version', value: '2019-01-01' } }) } }, tool: 'github.getIssue', input: { owner: 'octo', repo: 'kit', issue_number: 1 } }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining("API version '2019-01-01' is not supported") });
  });
});
