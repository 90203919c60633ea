import { parseConfig, type ConfigError } from '@broker/shared/config/load';
import { readJsonPath, scalarText } from '@broker/shared/async/json-path';
import { pending, ToolError, type RunnableTool } from '@broker/tools';
import { afterCheck, nextWake, planWait } from '@broker/worker';

/** The pieces of async tools that need no Redis: JSON paths, the config section, the wait plan. */
describe('JSON paths', () => {
  const event = { data: { object: { id: 'pi_1', amount: 5, items: [{ id: 'a' }, { id: 'b' }] } } };
  it('reads dotted names, $ and indexes; own properties only', () => {
    expect(readJsonPath(event, '$.data.object.id')).toBe('pi_1');
    expect(readJsonPath(event, 'data.object.items[1].id')).toBe('b');
    expect(readJsonPath(event, '$')).toBe(event);
    expect(readJsonPath(event, '$.data.missing.id')).toBeUndefined();
    expect(readJsonPath(event, '$.data.object.items.id')).toBeUndefined();
    expect(readJsonPath({}, '$.constructor')).toBeUndefined();
    expect(() => readJsonPath(event, '$..id')).toThrow(/not a supported JSON path/);
    expect(scalarText(5)).toBe('5');
    expect(scalarText({ id: 1 })).toBeUndefined();
  });
});

describe('the async section of a declared tool', () => {
  const tool = (async: unknown, webhooks: Record<string, unknown> = {}) =>
    parseConfig({ webhooks, integrations: { x: { baseUrl: 'http://127.0.0.1:9', tools: [{ name: 'x.go', method: 'POST', path: '/go', async }] } } });
  const problems = (fn: () => unknown): string[] => {
    try {
      fn();
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('has defaults', () => {
    const parsed = tool({ referencePath: '$.id', poll: { path: '/go/{reference}', doneWhen: { path: '$.state', equals: 'done' } } });
    expect(parsed.integrations.x!.tools[0]!.async).toEqual({
      referencePath: '$.id',
      deadlineMs: 900_000,
      poll: { method: 'GET', path: '/go/{reference}', doneWhen: { path: '$.state', equals: 'done' }, intervalMs: 2000, maxIntervalMs: 60_000 },
    });
  });

  it('lists every problem by path', () => {
    expect(problems(() => tool({ referencePath: '$.id' }))).toEqual([expect.stringContaining('give "poll", "webhook" or both')]);
    expect(problems(() => tool({ referencePath: '$..id', poll: { path: 'go', doneWhen: { path: '$.s', equals: 1, in: [1] } } }))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^integrations\.x\.tools\.0\.async\.referencePath: must be a JSON path/),
        expect.stringMatching(/^integrations\.x\.tools\.0\.async\.poll\.path/),
        expect.stringMatching(/^integrations\.x\.tools\.0\.async\.poll\.doneWhen: give exactly one of "equals" and "in"/),
      ]),
    );
    expect(problems(() => tool({ referencePath: '$.id', webhook: { source: 'nope', event: 'a', path: '$.id' } }))).toEqual([
      'integrations.x.tools.0.async.webhook.source: unknown webhook source "nope"',
    ]);
    expect(
      problems(() => tool({ referencePath: '$.id', webhook: { source: 'acme', event: ['a', 'b'], failEvent: 'b', path: '$.id' } }, { acme: { type: 'standard', secret: 'S' } })),
    ).toEqual(['integrations.x.tools.0.async.webhook.failEvent: an event type cannot both complete and fail the job']);
  });
});

describe('the wait plan', () => {
  const tool = { name: 't.go', checkStatus: async () => ({ state: 'pending' as const }) } as unknown as RunnableTool;
  it("starts with the tool's interval, doubles after each check up to the cap, and never sleeps past the deadline", () => {
    let wait = planWait(tool, pending('r1', { poll: { intervalMs: 100, maxIntervalMs: 350 }, deadlineMs: 1000 }), 0);
    expect(wait).toMatchObject({ reference: 'r1', since: 0, deadline: 1000, poll: { nextAt: 100 } });
    const wakes = [nextWake(wait)];
    for (let i = 0; i < 4; i++) {
      wait = afterCheck(wait, nextWake(wait));
      wakes.push(nextWake(wait));
    }
    expect(wakes).toEqual([100, 300, 650, 1000, 1000]);
    expect(wait.checks).toBe(4);
  });

  it("lets the integration's asyncPoll override the tool", () => {
    expect(planWait(tool, pending('r', { poll: { intervalMs: 10_000 } }), 0, { intervalMs: 50 }).poll).toEqual({ nextAt: 50, intervalMs: 50, maxIntervalMs: 400 });
  });

  it('refuses a pending answer it cannot finish', () => {
    const noCheck = { name: 't.go' } as unknown as RunnableTool;
    expect(() => planWait(noCheck, pending('r', { poll: {} }), 0)).toThrow(ToolError);
    expect(() => planWait(tool, pending('r', {}), 0)).toThrow(/without a poll or a webhook/);
    expect(() => planWait(tool, pending('', { poll: {} }), 0)).toThrow(/reference/);
    expect(() => planWait(tool, pending('r', { poll: {}, deadlineMs: 8 * 24 * 3600 * 1000 }), 0)).toThrow(/deadline/);
  });
});
