import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { z } from 'zod';
import { problemSchema } from '@broker/shared/errors/problem';
import { publicJobSchema, submitJobBodySchema } from '@broker/shared/jobs/schema';
import { toolListSchema } from '@broker/shared/tools/tool-list';
import { startApi, type Harness } from '../api/harness';
import { stackConfig } from './stack';

/**
 * `/openapi.json` is a valid OpenAPI 3.1 document, generated from the zod
 * schemas the API uses, and it documents every route the Express app
 * registers: a route added without documentation fails this test.
 */

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

let h: Harness;
let doc: Doc;

beforeAll(async () => {
  // admin configured, so every optional route (Bull Board) is mounted.
  h = await startApi('openapi', { config: stackConfig('http://127.0.0.1:9') });
  doc = (
    await request(h.server)
      .get('/openapi.json')
      .expect(200)
      .expect('Content-Type', /application\/json/)
  ).body as Doc;
});
afterAll(async () => {
  await h?.close();
});

function validate(document: unknown): { valid: boolean; errors: unknown; version: string } {
  const run = spawnSync(process.execPath, [join(__dirname, 'validate-openapi.mjs')], { input: JSON.stringify(document), encoding: 'utf8', timeout: 15_000 });
  if (run.status !== 0) throw new Error(`validator exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as { valid: boolean; errors: unknown; version: string };
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Express `/v1/jobs/:id` → OpenAPI `/v1/jobs/{id}`. */
const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
/** A concrete path for a documented template, to ask Express whether a mounted router would take it. */
const sample = (path: string) => path.replace(/\{(\w+)\}/g, 'x');

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  match(path: string): boolean;
  name: string;
}

function appLayers(): Layer[] {
  return (h.api.app as unknown as { router: { stack: Layer[] } }).router.stack;
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = validate(doc);
    expect(result.errors).toBeNull();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  it('is checked by a validator that rejects a broken document', () => {
    const broken = { ...doc, paths: { '/x': { get: { responses: 'none' } } } };
    expect(validate(broken).valid).toBe(false);
  });

  it('documents every route the app registers, with its methods', () => {
    const missing: string[] = [];
    const routes = appLayers().filter((l) => l.route);
    expect(routes.length).toBeGreaterThan(15);
    for (const layer of routes) {
      const path = toOpenApiPath(layer.route!.path);
      for (const method of Object.keys(layer.route!.methods).filter((m) => HTTP_METHODS.includes(m))) {
        if (!doc.paths[path]?.[method]) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    // Mounted routers (app.use('/admin/queues', …)) have no route; a documented path must reach each.
    const unreachable = '/__no_route_here__/x';
    const mounted = appLayers().filter((l) => !l.route && !l.match(unreachable));
    expect(mounted.length).toBeGreaterThan(0);
    for (const layer of mounted) {
      if (!Object.keys(doc.paths).some((p) => layer.match(sample(p)))) missing.push(`mounted middleware "${layer.name}"`);
    }
    expect(missing).toEqual([]);
  });

  it('documents no route the app does not have', () => {
    const routes = appLayers().filter((l) => l.route);
    const mounted = appLayers().filter((l) => !l.route && !l.match('/__no_route_here__/x'));
    const phantom: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => HTTP_METHODS.includes(m))) {
        const routed = routes.some((l) => toOpenApiPath(l.route!.path) === path && l.route!.methods[method]);
        if (!routed && !mounted.some((l) => l.match(sample(path)))) phantom.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(phantom).toEqual([]);
  });

  it('covers the contract surfaces by name', () => {
    for (const path of [
      '/v1/tools',
      '/v1/jobs',
      '/v1/jobs/{id}',
      '/v1/jobs/{id}/retry',
      '/v1/events',
      '/v1/events/{id}',
      '/v1/events/{id}/replay',
      '/v1/audit',
      '/v1/integrations',
      '/hooks/{source}',
      '/admin/queues',
      '/metrics',
      '/mcp',
      '/healthz',
      '/readyz',
      '/openapi.json',
      '/docs',
    ]) {
      expect(doc.paths[path]).toBeDefined();
    }
    const ids = Object.values(doc.paths)
      .flatMap((item) => Object.values(item).map((op) => op.operationId))
      .filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents the retry of a failed job: 202 with the job and Location, 404, 409', () => {
    const op = doc.paths['/v1/jobs/{id}/retry']!.post!;
    expect(op.operationId).toBe('retryJob');
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['202', '401', '404', '409', '503']));
    expect(op.responses['202']).toMatchObject({ headers: { Location: expect.any(Object) }, content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } });
  });

  it('takes its schemas from the zod schemas the API validates with', () => {
    const asJson = (schema: z.ZodType, io: 'input' | 'output') => {
      const { $schema: _d, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
      return rest;
    };
    expect(doc.components.schemas.SubmitJobRequest).toEqual(asJson(submitJobBodySchema, 'input'));
    expect(doc.components.schemas.SubmitJobRequest!.required).toEqual(['tool']);
    expect(doc.components.schemas.Job).toEqual(asJson(publicJobSchema, 'output'));
    expect(doc.components.schemas.Problem).toEqual(asJson(problemSchema, 'output'));
    expect(doc.components.schemas.ToolList).toEqual(asJson(toolListSchema, 'output'));
  });

  it('serves a self-contained docs page listing every operation', async () => {
    const res = await request(h.server)
      .get('/docs')
      .expect(200)
      .expect('Content-Type', /text\/html/);
    expect(res.text).not.toMatch(/<script|https?:\/\/(?!json-schema)/);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) if (op.operationId) expect(res.text).toContain(`id="${op.operationId}"`);
      expect(res.text).toContain(`<code>${path}</code>`);
    }
  });
});
