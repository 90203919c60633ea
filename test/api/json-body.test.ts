import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from '@swc/core';
import request from 'supertest';
import { MAX_BODY_BYTES } from '../../apps/api/src/http/json-body';
import { MAX_JSON_DEPTH, tooDeep } from '../../apps/api/src/http/json-depth';
import { bearer, KEYS, startApi, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startApi('api-json-body');
});

afterAll(async () => {
  await h.close();
});

/** `levels` nested arrays, the innermost holding as many zeros as fit in 1 MiB. */
function zerosBody(levels: number): string {
  const zeros = Math.floor((MAX_BODY_BYTES - 2 * levels - 1) / 2);
  return `${'['.repeat(levels)}${'0,'.repeat(zeros)}0${']'.repeat(levels)}`;
}

const nested = (levels: number, inner: unknown = 1): unknown => (levels === 0 ? inner : [nested(levels - 1, inner)]);

describe('body nesting', () => {
  it('names the first value nested too deep, with the pointer to it', async () => {
    expect(tooDeep(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(tooDeep(nested(MAX_JSON_DEPTH + 1))).toEqual(Array<number>(MAX_JSON_DEPTH).fill(0));
    expect(tooDeep({ a: [1, { b: nested(MAX_JSON_DEPTH - 2, []) }] })).toEqual(['a', 1, 'b', ...Array<number>(MAX_JSON_DEPTH - 3).fill(0)]);
    expect(tooDeep({ a: 1, b: [] }, 1)).toEqual(['b']);
    expect(tooDeep('x', 0)).toBeUndefined();

    const res = await request(h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .send({ tool: 'demo.createOrder', input: { deep: nested(MAX_JSON_DEPTH, []) } })
      .expect(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: `/input/deep${'/0'.repeat(MAX_JSON_DEPTH - 2)}` }] });
  });

  it('answers a 1 MiB array of 500,000 numbers nested 63 levels with the 422 of a body that is not a job', async () => {
    const res = await request(h.server)
      .post('/v1/jobs')
      .set(bearer(KEYS.a))
      .set('Content-Type', 'application/json')
      .send(zerosBody(MAX_JSON_DEPTH - 1))
      .expect(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ pointer: '' }] });
  });

  it('walks that body in a 64 MB heap: no allocation per number', async () => {
    // The source as jest runs it, in a process whose heap a path copied for each of the 500,000 numbers (~300 MB) overflows.
    const { code } = transformSync(readFileSync(join(__dirname, '../../apps/api/src/http/json-depth.ts'), 'utf8'), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    const body = zerosBody(MAX_JSON_DEPTH - 1);
    expect(body.length).toBe(MAX_BODY_BYTES - 1);
    // The body comes on stdin, parsed as express.json() parses it.
    const script = `${code}
      const chunks = [];
      process.stdin.on('data', (c) => chunks.push(c)).on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        process.stdout.write(JSON.stringify({ found: tooDeep(body) ?? null, numbers: body.flat(Infinity).length }));
      });`;
    const child = spawn(process.execPath, ['--max-old-space-size=64', '-e', script], { cwd: join(__dirname, '../../apps/api'), stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(body);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ exitCode, err: err.slice(0, 300) }).toEqual({ exitCode: 0, err: '' });
    expect(JSON.parse(out)).toEqual({ found: null, numbers: (body.length - 2 * (MAX_JSON_DEPTH - 1) + 1) / 2 });
  });
});

describe('a request with no body', () => {
  it('is 422 with Content-Length: 0 and no Content-Type (a bodiless fetch POST), not 415', async () => {
    const res = await request(h.server).post('/v1/jobs').set(bearer(KEYS.a)).set('Content-Length', '0').expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 422, code: 'VALIDATION_ERROR' });
  });

  it('is still 415 with a body of another type', async () => {
    const res = await request(h.server).post('/v1/jobs').set(bearer(KEYS.a)).set('Content-Type', 'text/plain').send('x').expect(415);
    expect(res.body).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
