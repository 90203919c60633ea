import fc from 'fast-check';
import request from 'supertest';
import type { Harness } from '../api/harness';
import { AGENT_KEYS, ADMIN_TOKEN, keyspaceFingerprint, rawSocket, startSecurityApi } from './harness';
import { assertNoPollution, crashWatch, fuzzEndpoint, headerList, prototypeSnapshot, reportTally, tally, type FuzzCase } from './fuzz-runner';
import { authorization, contentType, deepText, someHeaders, hostileQuery, hostileSegment, jsonText, objectWith, spoiled } from './hostile';

/*
 * Property-based fuzz of the agent surface (POST /v1/jobs, GET/DELETE
 * /v1/jobs/:id, POST /v1/jobs/:id/retry, GET /v1/tools, /mcp): random JSON, wrong types, deep nesting,
 * prototype keys, huge strings, invalid UTF-8, wrong content types, repeated
 * and long headers. Seeded: a failure prints its seed and replays exactly.
 */

const SEED = 20260711;
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

let h: Harness;
let ownJob: string;
let othersJob: string;
const watch = crashWatch();
const snapshot = prototypeSnapshot();

const agentAuth = authorization([AGENT_KEYS.a, AGENT_KEYS.c], [AGENT_KEYS.b, AGENT_KEYS.ops, ADMIN_TOKEN]);
const allAuth = [AGENT_KEYS.a, AGENT_KEYS.b, AGENT_KEYS.c, ADMIN_TOKEN].map((k) => `Bearer ${k}`);
const oddMethod = fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'M-SEARCH', 'CONNECTX');

beforeAll(async () => {
  h = await startSecurityApi('fuzz-agent');
  const a = await request(h.server)
    .post('/v1/jobs')
    .set('Authorization', `Bearer ${AGENT_KEYS.a}`)
    .send({ tool: 'demo.getContact', input: { id: 'own' } });
  const c = await request(h.server)
    .post('/v1/jobs')
    .set('Authorization', `Bearer ${AGENT_KEYS.c}`)
    .send({ tool: 'demo.getContact', input: { id: 'theirs' } });
  ownJob = a.body.id;
  othersJob = c.body.id;
  expect(ownJob).toMatch(/^job_/);
  expect(othersJob).toMatch(/^job_/);
});

afterAll(async () => {
  watch.stop();
  await h?.close();
  reportTally('fuzz-agent');
});

const jobBody = objectWith(
  {
    tool: fc.constantFrom('"demo.getContact"', '"demo.createOrder"', '"crm.getContact"', '"demo.*"', '"__proto__"', '"constructor.name"', '"demo.getcontact"'),
    input: fc.oneof(
      fc.constantFrom('{"id":"c_1"}', '{"sku":"s","qty":2}', '{"__proto__":{"polluted":1},"id":"x"}', '{"id":"x","constructor":{"prototype":{"polluted":1}}}'),
      objectWith({ id: fc.constant('"c_1"'), sku: fc.constant('"s"'), qty: fc.constant('2') }),
    ),
    connection: fc.constantFrom('"default"', '"eu"', '"__proto__"', '"constructor"', '"toString"', '"acme"'),
    callbackUrl: fc.constantFrom(
      '"http://127.0.0.1:9/cb"',
      '"http://10.0.0.1/cb"',
      '"http://[::1]/"',
      '"http://2130706433/"',
      '"ftp://127.0.0.1/"',
      '"http://user:pw@127.0.0.1:9/"',
    ),
  },
  ['connection', 'callbackUrl'],
);

describe('fuzz: agent API', () => {
  it(`POST /v1/jobs (${RUNS} cases)`, async () => {
    const cases: fc.Arbitrary<FuzzCase> = fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: oddMethod }),
        auth: agentAuth,
        type: contentType,
        extra: someHeaders(allAuth),
        body: spoiled(
          fc.oneof(
            { weight: 4, arbitrary: jobBody },
            { weight: 1, arbitrary: jsonText },
            { weight: 1, arbitrary: deepText.map((d) => `{"tool":"demo.createOrder","input":{"sku":"s","qty":1,"deep":${d}}}`) },
          ),
        ),
        query: hostileQuery(['tool', 'waitMs']),
      })
      .map((r) => ({
        method: r.method,
        path: `/v1/jobs${r.query}`,
        headers: headerList(
          [
            ['authorization', r.auth],
            ['content-type', r.type],
          ],
          r.extra,
        ),
        body: r.body,
      }));
    await fuzzEndpoint(h, 'POST /v1/jobs', cases, { runs: RUNS, seed: SEED });
  });

  it(`GET and DELETE /v1/jobs/:id (${RUNS} cases)`, async () => {
    // Only a bad waitMs with a real id: a good one would hold the answer for up to 30 s.
    const safeWait = fc.constantFrom('', '?waitMs=0', '?waitMs=-1', '?waitMs=abc', '?waitMs=30001', '?waitMs[]=1', '?waitMs=1&waitMs=2', '?waitMs=%00', '?__proto__[polluted]=1');
    const target = fc.oneof(
      fc.tuple(fc.constantFrom(ownJob, othersJob, `${ownJob}x`, ownJob.toUpperCase(), `${ownJob}/`, `${ownJob}%00`), safeWait),
      fc.tuple(hostileSegment, hostileQuery(['waitMs'])),
    );
    const cases: fc.Arbitrary<FuzzCase> = fc
      .record({
        method: fc.oneof({ weight: 5, arbitrary: fc.constant('GET') }, { weight: 3, arbitrary: fc.constant('DELETE') }, { weight: 1, arbitrary: oddMethod }),
        auth: agentAuth,
        target,
        extra: someHeaders(allAuth),
        body: fc.option(spoiled(jsonText), { nil: undefined }),
      })
      .map((r) => ({
        method: r.method,
        path: `/v1/jobs/${r.target[0]}${r.target[1]}`,
        headers: headerList([['authorization', r.auth]], r.extra),
        ...(r.body ? { body: r.body } : {}),
      }));
    await fuzzEndpoint(h, 'GET|DELETE /v1/jobs/:id', cases, { runs: RUNS, seed: SEED + 1 });
  });

  it(`POST /v1/jobs/:id/retry (${RUNS} cases)`, async () => {
    const cases: fc.Arbitrary<FuzzCase> = fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH') }),
        auth: agentAuth,
        target: fc.oneof(fc.constantFrom(ownJob, othersJob, `${ownJob}x`, ownJob.toUpperCase(), `${ownJob}%00`), hostileSegment),
        type: contentType,
        extra: someHeaders(allAuth),
        body: fc.option(spoiled(jsonText), { nil: undefined }),
        query: hostileQuery(['waitMs']),
      })
      .map((r) => ({
        method: r.method,
        path: `/v1/jobs/${r.target}/retry${r.query}`,
        headers: headerList(
          [
            ['authorization', r.auth],
            ['content-type', r.type],
          ],
          r.extra,
        ),
        ...(r.body ? { body: r.body } : {}),
      }));
    await fuzzEndpoint(h, 'POST /v1/jobs/:id/retry', cases, { runs: RUNS, seed: SEED + 5 });
  });

  it(`GET /v1/tools (${RUNS} cases)`, async () => {
    const cases: fc.Arbitrary<FuzzCase> = fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'DELETE', 'PUT', 'HEAD') }),
        auth: agentAuth,
        query: hostileQuery(['integration', 'tool', 'q']),
        extra: someHeaders(allAuth),
        body: fc.option(spoiled(jsonText), { nil: undefined }),
        suffix: fc.constantFrom('', '/', '//', '/x', '%2F', '.json'),
      })
      .map((r) => ({ method: r.method, path: `/v1/tools${r.suffix}${r.query}`, headers: headerList([['authorization', r.auth]], r.extra), ...(r.body ? { body: r.body } : {}) }));
    await fuzzEndpoint(h, 'GET /v1/tools', cases, { runs: RUNS, seed: SEED + 2 });
  });

  it(`POST /mcp (${RUNS} cases)`, async () => {
    // Every call carries broker/waitMs 0: a valid call must not wait 25 s for a job no worker runs.
    const params = fc.oneof(
      objectWith({
        name: fc.constantFrom(
          '"demo_getContact"',
          '"demo_createOrder"',
          '"get_job"',
          '"retry_job"',
          '"list_tools"',
          '"crm_getContact"',
          '"__proto__"',
          '"constructor"',
          '"demo.getContact"',
        ),
        arguments: fc.oneof(jsonText, fc.constantFrom(`{"id":"${othersJob}"}`, `{"id":"${ownJob}","waitMs":"1"}`, '{"id":"x"}', '{"sku":"s","qty":0}')),
        _meta: fc.constantFrom(
          '{"broker/waitMs":0}',
          '{"broker/waitMs":0,"broker/idempotencyKey":"\\u0000"}',
          '{"broker/waitMs":0,"broker/connection":"__proto__"}',
          '{"broker/waitMs":0,"broker/callbackUrl":"http://169.254.169.254/"}',
          '{"broker/waitMs":0,"progressToken":{"__proto__":1}}',
        ),
      }).filter((p) => p.includes('"_meta":{"broker/waitMs":0')),
      fc.constantFrom('{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}', '{}', 'null', '[]'),
    );
    const rpc = objectWith({
      jsonrpc: fc.constantFrom('"2.0"', '"1.0"', '2'),
      id: fc.constantFrom('1', '"x"', 'null', '{"__proto__":1}', '1e400'),
      method: fc.constantFrom('"tools/call"', '"tools/list"', '"initialize"', '"ping"', '"notifications/initialized"', '"resources/list"', '"__proto__"', '"constructor"'),
      params,
    }).filter((t) => !t.includes('"tools/call"') || t.includes('"_meta":{"broker/waitMs":0'));
    // A well-formed call whose arguments are hostile: the path into submitToolJob.
    const call = fc
      .tuple(
        fc.constantFrom('demo_getContact', 'demo_createOrder', 'get_job', 'retry_job', 'list_tools', 'crm_getContact', 'other_ping'),
        fc.oneof(jsonText, objectWith({ id: fc.constantFrom('"c_1"', `"${othersJob}"`), sku: fc.constant('"s"'), qty: fc.constant('1') })),
      )
      .map(([name, args]) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${name}","arguments":${args},"_meta":{"broker/waitMs":0}}}`);
    const body = spoiled(
      fc.oneof(
        { weight: 5, arbitrary: call },
        { weight: 3, arbitrary: rpc },
        { weight: 1, arbitrary: rpc.map((r) => `[${r},${r}]`) },
        { weight: 1, arbitrary: jsonText.filter((t) => !t.includes('tools/call')) },
      ),
    );
    const cases: fc.Arbitrary<FuzzCase> = fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT') }),
        auth: agentAuth,
        type: contentType,
        accept: fc.oneof(
          { weight: 6, arbitrary: fc.constant('application/json, text/event-stream') },
          { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/event-stream', '*/*', undefined, 'text/html') },
        ),
        protocol: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(undefined, '2025-06-18') }, { weight: 1, arbitrary: fc.constantFrom('2025-03-26', '1999-01-01', 'x') }),
        extra: someHeaders(allAuth),
        body,
      })
      .map((r) => ({
        method: r.method,
        path: '/mcp',
        headers: headerList(
          [
            ['authorization', r.auth],
            ['content-type', r.type],
            ['accept', r.accept],
            ['mcp-protocol-version', r.protocol],
          ],
          r.extra,
        ),
        body: r.body,
      }));
    await fuzzEndpoint(h, 'POST /mcp', cases, {
      runs: RUNS,
      seed: SEED + 3,
      // Past auth and body parsing, the MCP transport answers with JSON-RPC errors, as MCP clients expect.
      refusedOk: (res) => res.text.includes('"isError":true'),
      foreignError: (_c, res) => {
        const body = res.json as { jsonrpc?: string; error?: { code?: unknown } } | undefined;
        return body?.jsonrpc === '2.0' && typeof body.error?.code === 'number';
      },
    });
  });

  it(`malformed HTTP over raw sockets: smuggling, bad framing, odd request lines (${RUNS} cases)`, async () => {
    const job = '{"tool":"demo.getContact","input":{"id":"smuggled"}}';
    const smuggled = `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${AGENT_KEYS.a}\r\nContent-Type: application/json\r\nContent-Length: ${job.length}\r\n\r\n${job}`;
    const cases = fc.record({
      method: fc.constantFrom('POST', 'GET', 'G ET', 'POST\u0000', 'post', 'CONNECT', 'PRI'),
      target: fc.oneof(
        fc.constantFrom(
          '/v1/jobs',
          '/v1/tools',
          'http://evil.example/v1/tools',
          '*',
          '/v1/jobs#frag',
          '/v1/jobs?x=\u00ff',
          '/v1/j obs',
          '/v1/jobs\u0000',
          '//v1//jobs',
          '/%2e%2e/v1/tools',
          '\\v1\\tools',
        ),
        fc.integer({ min: 8000, max: 20_000 }).map((n) => `/v1/tools?${'p'.repeat(n)}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 x', 'HTTP/1.10', ''),
      framing: fc.constantFrom('ok', 'two-lengths', 'length-and-chunked', 'chunked-then-smuggle', 'bad-chunk', 'negative-length', 'huge-length', 'te-obfuscated'),
      junk: fc.constantFrom(
        [],
        ['Bad Header: x'],
        ['X-Nul: a\u0000b'],
        ['X-Obs: a', ' folded'],
        ['NoColon'],
        [': empty-name'],
        ['X-Ctl: \u0001\u007f'],
        ['Authorization: Bearer other', 'Authorization: Bearer more'],
        ['Content-Type: application/json', 'Content-Type: text/plain'],
        ['X-Hi: \u00ff\u00fe'],
        ['Upgrade: websocket', 'Connection: Upgrade'],
        ['Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__'],
      ),
      eol: fc.constantFrom('\r\n', '\r\n', '\n'),
    });
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const body = job.replace('smuggled', 'main');
        const framing: Record<string, { headers: string[]; body: string }> = {
          ok: { headers: [`Content-Length: ${body.length}`], body },
          'two-lengths': { headers: [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`], body },
          'length-and-chunked': { headers: [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'], body: `0\r\n\r\n${smuggled}` },
          'chunked-then-smuggle': { headers: ['Transfer-Encoding: chunked'], body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n${smuggled}` },
          'bad-chunk': { headers: ['Transfer-Encoding: chunked'], body: `zz\r\n${body}\r\n` },
          'negative-length': { headers: ['Content-Length: -1'], body },
          'huge-length': { headers: ['Content-Length: 99999999999999999999'], body },
          'te-obfuscated': { headers: ['Transfer-Encoding: xchunked', `Content-Length: ${body.length}`], body },
        };
        const f = framing[c.framing]!;
        const lines = [
          `${c.method} ${c.target} ${c.version}`.trimEnd(),
          'Host: 127.0.0.1',
          'Connection: close',
          `Authorization: Bearer ${AGENT_KEYS.a}`,
          'Content-Type: application/json',
          ...c.junk,
          ...f.headers,
        ];
        const bytes = Buffer.from(`${lines.join(c.eol)}${c.eol}${c.eol}${f.body}`, 'latin1');
        const before = await keyspaceFingerprint(h.redis, h.prefix);
        const res = await rawSocket(h, bytes);
        tally.cases++;
        tally.byEndpoint.set('raw HTTP', (tally.byEndpoint.get('raw HTTP') ?? 0) + 1);
        const where = `${JSON.stringify(c)}\n${res.head}\n${res.body.slice(0, 200)}`;
        if (res.status === 0 || res.status >= 500) throw new Error(`raw HTTP: status ${res.status}\n${where}`);
        if (res.status >= 400) {
          tally.rejected++;
          if (!/content-type: application\/problem\+json/i.test(res.head) && !c.method.startsWith('HEAD'))
            throw new Error(`raw HTTP: ${res.status} without a problem body\n${where}`);
          // Whatever else was on the socket (a smuggled request) must not have been run.
          const after = await keyspaceFingerprint(h.redis, h.prefix);
          if (after !== before) throw new Error(`raw HTTP: a rejected request changed Redis\n${where}`);
        } else {
          tally.accepted++;
        }
        // The request hidden behind the framing never runs, whatever the first one got.
        const queued = await h.queue.getJobs(['waiting', 'delayed', 'prioritized']);
        if (queued.some((j) => JSON.stringify(j.data).includes('smuggled'))) throw new Error(`raw HTTP: a smuggled request ran\n${where}`);
      }),
      { numRuns: Math.min(RUNS, 200), seed: Number(process.env.FUZZ_SEED ?? SEED + 4) },
    );
  });

  it('nothing reached a prototype, nothing crashed, and the API still answers', async () => {
    assertNoPollution(snapshot);
    expect(watch.seen).toEqual([]);
    await request(h.server).get('/healthz').expect(200);
    const own = await request(h.server).get(`/v1/jobs/${ownJob}`).set('Authorization', `Bearer ${AGENT_KEYS.a}`);
    expect([200]).toContain(own.status);
  });
});
