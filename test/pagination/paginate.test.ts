import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import { createIntegrationClients, cursorPages, DEFAULT_MAX_RECORDS, linkHeaderPages, offsetPages, paginate, parseLinkHeader, ToolError } from '@broker/tools';
import { testLogger } from '../helpers/broker';
import { builtinIntegrationConfig, GitHubStub, KIT_SECRETS } from '../kit';

/** A recorder of progress reports, standing in for the worker's job record. */
function progressLog() {
  const reports: unknown[] = [];
  return { reports, ctx: { reportProgress: async (p: unknown) => void reports.push(p) } };
}

/** An upstream list of `n` records, read by cursor (the cursor is the next index as a string). */
function cursorSource(n: number, pageSize: number) {
  const asked: number[] = [];
  const fetch = cursorPages<number>(async (cursor, limit) => {
    const start = cursor ? Number(cursor) : 0;
    const size = Math.min(pageSize, limit);
    asked.push(size);
    const items = Array.from({ length: Math.max(0, Math.min(size, n - start)) }, (_, i) => start + i);
    return { items, nextCursor: start + items.length < n ? String(start + items.length) : null };
  });
  return { fetch, asked };
}

describe('paginate', () => {
  it('reads every page of a cursor listing and reports progress per page', async () => {
    const { reports, ctx } = progressLog();
    const { fetch } = cursorSource(25, 10);
    const result = await paginate(ctx, fetch);
    expect(result).toMatchObject({ pages: 3, truncated: false, next: null });
    expect(result.items).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(reports).toEqual([
      { page: 1, records: 10 },
      { page: 2, records: 20 },
      { page: 3, records: 25 },
    ]);
  });

  it('stops at the cap, asking the last page for no more than it needs, and says where to resume', async () => {
    const { ctx } = progressLog();
    const { fetch, asked } = cursorSource(100, 10);
    const result = await paginate(ctx, fetch, { maxRecords: 25 });
    expect(result).toMatchObject({ pages: 3, truncated: true, next: '25' });
    expect(result.items).toHaveLength(25);
    expect(asked).toEqual([10, 10, 5]);
    const rest = await paginate(ctx, fetch, { maxRecords: 1000, start: result.next! });
    expect(rest.items[0]).toBe(25);
    expect(rest.items).toHaveLength(75);
  });

  it('is not truncated when the cap and the end of the list coincide', async () => {
    const result = await paginate(progressLog().ctx, cursorSource(20, 10).fetch, { maxRecords: 20 });
    expect(result).toMatchObject({ truncated: false, next: null });
  });

  it('caps at 10,000 records by default', async () => {
    expect(DEFAULT_MAX_RECORDS).toBe(10_000);
    const result = await paginate(progressLog().ctx, cursorSource(12_000, 1000).fetch);
    expect(result).toMatchObject({ pages: 10, truncated: true, next: '10000' });
    expect(result.items).toHaveLength(10_000);
  });

  it('reads offset listings until a short page or the reported total', async () => {
    const rows = Array.from({ length: 23 }, (_, i) => `r${i}`);
    const calls: [number, number][] = [];
    const fetch = offsetPages<string>(async (offset, limit) => {
      calls.push([offset, limit]);
      return { items: rows.slice(offset, offset + limit) };
    }, 10);
    const result = await paginate(progressLog().ctx, fetch);
    expect(result.items).toEqual(rows);
    expect(calls).toEqual([
      [0, 10],
      [10, 10],
      [20, 10],
    ]);

    const withTotal = offsetPages<string>(async (offset, limit) => ({ items: rows.slice(offset, offset + limit), total: 20 }), 10);
    const bounded = await paginate(progressLog().ctx, withTotal);
    expect(bounded).toMatchObject({ pages: 2, truncated: false });
  });

  it('fails instead of looping when the upstream hands back the same cursor', async () => {
    const stuck = cursorPages<number>(async () => ({ items: [1], nextCursor: 'same' }));
    await expect(paginate(progressLog().ctx, stuck)).rejects.toMatchObject({ code: 'UNKNOWN', message: expect.stringContaining('did not advance') });
    const empty = cursorPages<number>(async (c) => ({ items: [], nextCursor: String(Number(c ?? 0) + 1) }));
    await expect(paginate(progressLog().ctx, empty)).rejects.toBeInstanceOf(ToolError);
  });

  it('refuses a cap that is not a positive integer', async () => {
    await expect(paginate(progressLog().ctx, cursorSource(1, 1).fetch, { maxRecords: 0 })).rejects.toThrow(RangeError);
  });
});

describe('link-header pagination', () => {
  it('parses RFC 8288 Link headers', () => {
    const links = parseLinkHeader('<https://api.github.com/repositories/1/issues?page=2&per_page=5>; rel="next", <https://x/?a=1,2>; rel="last first"');
    expect(links.get('next')).toBe('https://api.github.com/repositories/1/issues?page=2&per_page=5');
    expect(links.get('last')).toBe('https://x/?a=1,2');
    expect(links.get('first')).toBe('https://x/?a=1,2');
    expect(parseLinkHeader(undefined).size).toBe(0);
    expect(parseLinkHeader('garbage').size).toBe(0);
  });

  it("follows GitHub's Link header on the request's own path, through the integration client", async () => {
    const stub = await GitHubStub.start();
    try {
      stub.seedIssues('octo', 'kit', 12);
      const config = parseConfig({ integrations: { github: builtinIntegrationConfig('github', stub.url) } });
      const http = createIntegrationClients(config, envSecretsProvider(KIT_SECRETS), testLogger())
        .get('github')!
        .forCall({ tool: 't', jobId: 'j', attempt: 1, connection: 'default', write: false, requestId: 'r' });
      const { ctx, reports } = progressLog();
      const fetch = linkHeaderPages(http, { method: 'GET', path: '/repos/octo/kit/issues', query: { per_page: '5', state: 'open' } }, (d) =>
        (d as { number: number }[]).map((i) => i.number),
      );
      const result = await paginate(ctx, fetch);
      expect(result.items).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      expect(reports).toHaveLength(3);
      // The links name /repositories/{id}/issues; only their query is followed, with our credentials on our base URL.
      expect(stub.requests.map((r) => `${r.path}?${r.query.toString()}`)).toEqual([
        '/repos/octo/kit/issues?per_page=5&state=open',
        '/repos/octo/kit/issues?per_page=5&state=open&page=2',
        '/repos/octo/kit/issues?per_page=5&state=open&page=3',
      ]);

      // A cap inside a page the API will not shorten: the page is cut, and resuming re-reads it (no record skipped).
      const capped = await paginate(progressLog().ctx, fetch, { maxRecords: 7 });
      expect(capped).toMatchObject({ truncated: true, next: { per_page: '5', state: 'open', page: '2' } });
      expect(capped.items).toEqual([12, 11, 10, 9, 8, 7, 6]);
    } finally {
      await stub.close();
    }
  });
});
