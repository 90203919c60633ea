import { parseConfig } from '@broker/shared/config/load';
import { compileApprovalRules, conditionHolds, holdOf, jsonEqual } from '@broker/api';

/** Which `approvals` rule holds a submission: first match wins; `when` compares the submitted body. */
const rules = (approvals: unknown[]) => compileApprovalRules(parseConfig({ integrations: { demo: { baseUrl: 'http://127.0.0.1:9', tools: [] } }, approvals }).approvals);

const body = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ tool: 'x', input, ...extra });

describe('approval rule matching', () => {
  it('matches tools by glob (dots included) and takes the first rule that matches', () => {
    const match = rules([{ tools: 'stripe.refund*' }, { tools: 'stripe.*', timeoutSeconds: 60 }, { tools: '*' }]);
    expect(match({ body: body({}), tool: 'stripe.refundCharge', agentId: 'a' })?.index).toBe(0);
    expect(match({ body: body({}), tool: 'stripe.createCustomer', agentId: 'a' })?.index).toBe(1);
    expect(match({ body: body({}), tool: 'demo.getContact', agentId: 'a' })?.index).toBe(2);
    expect(rules([{ tools: 'stripe.refund' }])({ body: body({}), tool: 'stripe.refunds', agentId: 'a' })).toBeUndefined();
    // `.` is literal, not "any character".
    expect(rules([{ tools: 'a.b' }])({ body: body({}), tool: 'aXb', agentId: 'a' })).toBeUndefined();
  });

  it('narrows to agents by glob', () => {
    const match = rules([{ tools: '*', agents: ['intern-*', 'ops'] }]);
    expect(match({ body: body({}), tool: 't', agentId: 'intern-7' })).toBeDefined();
    expect(match({ body: body({}), tool: 't', agentId: 'ops' })).toBeDefined();
    expect(match({ body: body({}), tool: 't', agentId: 'ops-2' })).toBeUndefined();
    expect(match({ body: body({}), tool: 't', agentId: 'senior' })).toBeUndefined();
  });

  it('gt/gte/lt/lte compare numbers; a missing value or a non-number never matches', () => {
    const when = (op: string, limit: number) => ({ pointer: '/input/amount', [op]: limit });
    const cases: Array<[string, number, unknown, boolean]> = [
      ['gt', 1000, 1001, true],
      ['gt', 1000, 1000, false],
      ['gte', 1000, 1000, true],
      ['lt', 10, 9.5, true],
      ['lt', 10, 10, false],
      ['lte', 10, 10, true],
      ['gt', 1000, '5000', false],
      ['gt', 1000, undefined, false],
      ['gt', 1000, null, false],
      ['gt', 1000, [5000], false],
      ['lt', 0, -1, true],
    ];
    for (const [op, limit, value, expected] of cases) {
      const input = value === undefined ? {} : { amount: value };
      expect({ op, limit, value, holds: conditionHolds(when(op, limit) as never, body(input)) }).toEqual({ op, limit, value, holds: expected });
    }
  });

  it('eq matches an equal JSON value (never a missing one); ne anything else, a missing value included', () => {
    const eq = { pointer: '/input/currency', eq: 'usd' } as never;
    const ne = { pointer: '/input/currency', ne: 'usd' } as never;
    expect(conditionHolds(eq, body({ currency: 'usd' }))).toBe(true);
    expect(conditionHolds(eq, body({ currency: 'eur' }))).toBe(false);
    expect(conditionHolds(eq, body({}))).toBe(false);
    expect(conditionHolds(ne, body({ currency: 'eur' }))).toBe(true);
    expect(conditionHolds(ne, body({ currency: 'usd' }))).toBe(false);
    expect(conditionHolds(ne, body({}))).toBe(true);
    const objectEq = { pointer: '/input/meta', eq: { a: 1, b: [1, { c: true }] } } as never;
    expect(conditionHolds(objectEq, body({ meta: { b: [1, { c: true }], a: 1 } }))).toBe(true);
    expect(conditionHolds(objectEq, body({ meta: { a: 1, b: [1, { c: false }] } }))).toBe(false);
  });

  it('reads any part of the submitted body, own properties only', () => {
    expect(conditionHolds({ pointer: '/connection', eq: 'eu' } as never, body({}, { connection: 'eu' }))).toBe(true);
    expect(conditionHolds({ pointer: '/input/constructor', ne: 1 } as never, body({}))).toBe(true);
    expect(conditionHolds({ pointer: '/input/a~1b', gt: 1 } as never, body({ 'a/b': 2 }))).toBe(true);
  });

  it('a rule with `when` that does not hold lets a later rule match', () => {
    const match = rules([
      { tools: 'pay', when: { pointer: '/input/amount', gt: 100 } },
      { tools: 'pay', agents: ['new-*'] },
    ]);
    expect(match({ body: body({ amount: 50 }), tool: 'pay', agentId: 'new-1' })?.index).toBe(1);
    expect(match({ body: body({ amount: 500 }), tool: 'pay', agentId: 'new-1' })?.index).toBe(0);
    expect(match({ body: body({ amount: 50 }), tool: 'pay', agentId: 'old' })).toBeUndefined();
  });

  it('holdOf copies the rule and sets the deadline from timeoutSeconds', () => {
    const [rule] = parseConfig({ integrations: {}, approvals: [{ tools: 'x.*', when: { pointer: '/input/n', gte: 2 }, timeoutSeconds: 90 }] }).approvals;
    const hold = holdOf(3, rule!, new Date('2026-01-01T00:00:00.000Z'));
    expect(hold).toEqual({ rule: { index: 3, tools: 'x.*', when: { pointer: '/input/n', gte: 2 }, timeoutSeconds: 90 }, expiresAt: '2026-01-01T00:01:30.000Z' });
  });

  it('jsonEqual', () => {
    expect(jsonEqual(1, 1)).toBe(true);
    expect(jsonEqual(1, '1')).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual({ a: undefined }, { b: undefined })).toBe(false);
  });
});
