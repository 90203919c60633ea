import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import { KEYS } from '../api/harness';
import { StubServer } from '../helpers/stub-server';
import { builtinIntegrationConfig, loadFixture } from '../kit';
import { connectValidating, type ValidatingClient } from './mcp-client';
import { startStack, type Stack } from './stack';

/**
 * Every tool's MCP outputSchema is an object schema the SDK client compiles,
 * whatever the tool's own output schema is: the built-in tools' (zod, draft
 * 2020-12, against their recorded outputs), and declared ones that are not
 * objects or that refer to themselves (`#/definitions/…`, `#`), which must
 * keep meaning the same thing once they sit under `properties.result`.
 */

const RECORDED = join(__dirname, '../fixtures/recorded');
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

const item = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' }, children: { type: 'array', items: { $ref: '#/definitions/item' } } },
};
const shapesTools = [
  { name: 'shapes.list', method: 'GET', path: '/list', output: { type: 'array', items: { $ref: '#/definitions/item' }, definitions: { item } } },
  { name: 'shapes.count', method: 'GET', path: '/count', output: { type: 'integer', minimum: 0 } },
  {
    name: 'shapes.tree',
    method: 'GET',
    path: '/tree',
    output: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } } },
  },
  { name: 'shapes.broken', method: 'GET', path: '/broken', output: { type: 'integer' } },
  // 2020-12 only: draft-07 would read `items: false` as "no items" and know no `$anchor`.
  { name: 'shapes.point', method: 'GET', path: '/point', output: { $schema: DRAFT_2020_12, type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false } },
  {
    name: 'shapes.anchored',
    method: 'GET',
    path: '/anchored',
    output: { $schema: DRAFT_2020_12, type: 'object', $defs: { n: { $anchor: 'num', type: 'number' } }, properties: { x: { $ref: '#num' } } },
  },
];

const answers: Record<string, unknown> = {
  '/list': [{ id: 'a', children: [{ id: 'a1' }] }, { id: 'b' }],
  '/count': 3,
  '/tree': { name: 'root', children: [{ name: 'leaf', children: [] }] },
  '/broken': 'not a number',
  '/point': [1, 2],
  '/anchored': { x: 4 },
};

let shapes: StubServer;
let s: Stack;
let mcp: ValidatingClient;
let tools: Map<string, Tool>;
const validator = new AjvJsonSchemaValidator();
const validate = (tool: string, content: unknown) => validator.getValidator(tools.get(tool)!.outputSchema!)(content);

beforeAll(async () => {
  shapes = await StubServer.start((req) => ({ status: 200, body: answers[req.path] ?? null }));
  const dead = 'http://127.0.0.1:9';
  s = await startStack('mcp-schemas', {
    overrides: {
      agents: [{ id: 'agent-a', key: { secret: 'AGENT_A_KEY' }, scopes: ['tools:*'] }],
      integrations: {
        shapes: { baseUrl: shapes.url, retry: { attempts: 1 }, tools: shapesTools },
        ...Object.fromEntries((['stripe', 'hubspot', 'shopify', 'github'] as const).map((n) => [n, builtinIntegrationConfig(n, dead)])),
      },
    },
  });
  mcp = await connectValidating(`${s.baseUrl}/mcp`, KEYS.a);
  tools = new Map((await mcp.client.listTools()).tools.map((t) => [t.name, t]));
});

afterAll(async () => {
  await mcp?.client.close();
  await s?.close();
  await shapes?.close();
});

it('gives every tool an object outputSchema the SDK compiles, and open-world annotations to the broker tools', () => {
  expect(tools.size).toBeGreaterThan(15);
  for (const [name, tool] of tools) {
    expect(tool.outputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    expect(() => validator.getValidator(tool.outputSchema!)).not.toThrow();
    if (!['get_job', 'retry_job', 'list_tools'].includes(name)) {
      expect(tool.annotations).toMatchObject({ openWorldHint: true, readOnlyHint: expect.any(Boolean), destructiveHint: expect.any(Boolean), idempotentHint: expect.any(Boolean) });
      expect(JSON.stringify(tool.outputSchema)).not.toContain('$schema');
    }
  }
});

it("accepts each built-in tool's recorded output as {result, job}, and refuses a wrong one", () => {
  const job = { id: 'job_0', tool: '', status: 'succeeded', attempts: 1, createdAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z' };
  const fixtures = readdirSync(RECORDED).map((file) => loadFixture(join(RECORDED, file))!);
  expect(fixtures.length).toBeGreaterThanOrEqual(13);
  for (const fixture of fixtures) {
    const name = fixture.tool.replace(/\./g, '_');
    expect({ tool: name, ...validate(name, { result: fixture.output, job: { ...job, tool: fixture.tool } }) }).toMatchObject({ tool: name, valid: true });
    expect(validate(name, { result: 'a string', job: { ...job, tool: fixture.tool } }).valid).toBe(false);
  }
});

it('answers declared tools whose output is an array, an integer or recursive, each validated by the client', async () => {
  const list = await mcp.call('shapes_list', {});
  expect(list.structuredContent).toMatchObject({ result: answers['/list'], job: { status: 'succeeded' } });
  const count = await mcp.call('shapes_count', {});
  expect(count.structuredContent).toMatchObject({ result: 3 });
  expect(JSON.parse((count.content[0] as { text: string }).text)).toBe(3);
  const tree = await mcp.call('shapes_tree', {});
  expect(tree.structuredContent).toMatchObject({ result: answers['/tree'] });
  // A result the tool's own schema refuses never reaches the agent as one: SCHEMA_MISMATCH, still a valid answer.
  const broken = await mcp.call('shapes_broken', {});
  expect(broken.isError).toBe(true);
  expect(broken.structuredContent).toMatchObject({ error: { code: 'SCHEMA_MISMATCH' }, job: { status: 'failed' } });
});

it('answers declared tools whose output schema is 2020-12: validated by the broker in that dialect, described (not constrained) for draft-07 clients', async () => {
  const point = await mcp.call('shapes_point', {});
  expect(point.structuredContent).toMatchObject({ result: [1, 2], job: { status: 'succeeded' } });
  const anchored = await mcp.call('shapes_anchored', {});
  expect(anchored.structuredContent).toMatchObject({ result: { x: 4 } });
  expect(tools.get('shapes_point')!.outputSchema!.properties!.result).toEqual({ description: expect.any(String) });
});

it('keeps references meaning what they meant at the root of the tool schema', () => {
  // "#/definitions/item" still requires an id at every depth…
  expect(validate('shapes_list', { result: [{ id: 'a', children: [{ id: 'b' }] }] }).valid).toBe(true);
  expect(validate('shapes_list', { result: [{ id: 'a', children: [{}] }] }).valid).toBe(false);
  // …and "#" is the tree node, not the envelope (which would take {}).
  expect(validate('shapes_tree', { result: { name: 'a', children: [{ name: 'b' }] } }).valid).toBe(true);
  expect(validate('shapes_tree', { result: { name: 'a', children: [{}] } }).valid).toBe(false);
  // The envelope itself: nothing but result, job, error.
  expect(validate('shapes_count', { result: 1, extra: true }).valid).toBe(false);
  expect(validate('shapes_count', { error: { code: 'X', message: 'm' } }).valid).toBe(false);
});
