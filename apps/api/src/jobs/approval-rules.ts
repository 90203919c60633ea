import { readJsonPointer } from '@broker/shared/json/json-pointer';
import type { ApprovalComparison, ApprovalConditionConfig, ApprovalRuleConfig } from '@broker/shared/config/guardrails-schema';
import type { HeldByRule, JobHold } from '@broker/shared/jobs/approvals';
import { globToRegExp } from '../auth/scopes';

/** Which `approvals` rule, if any, holds a submission: compiled once from the config. */
export type ApprovalRuleMatcher = (submission: { body: unknown; tool: string; agentId: string }) => { index: number; rule: ApprovalRuleConfig } | undefined;

const ORDERED: readonly ApprovalComparison[] = ['gt', 'gte', 'lt', 'lte'];

/** JSON equality: same type and value, object keys in any order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Does the submitted body meet the rule's `when`? `gt`/`gte`/`lt`/`lte`
 * compare numbers: a missing value or one that is not a finite number never
 * matches. `eq` matches an equal JSON value (a missing one never); `ne`
 * matches anything else, a missing value included — a guardrail holds a job
 * it cannot read rather than letting it through.
 */
export function conditionHolds(when: ApprovalConditionConfig, body: unknown): boolean {
  const value = readJsonPointer(body, when.pointer);
  const op = (['gt', 'gte', 'lt', 'lte', 'eq', 'ne'] as const).find((o) => when[o] !== undefined);
  if (op === undefined) return false;
  if (ORDERED.includes(op)) {
    const limit = when[op] as number;
    if (typeof value !== 'number' || !Number.isFinite(value)) return false;
    if (op === 'gt') return value > limit;
    if (op === 'gte') return value >= limit;
    if (op === 'lt') return value < limit;
    return value <= limit;
  }
  if (op === 'eq') return value !== undefined && jsonEqual(value, when.eq);
  return value === undefined || !jsonEqual(value, when.ne);
}

/**
 * Compiles `approvals`: a submission is held by the first rule whose `tools`
 * glob matches the tool, whose `agents` globs (when given) match the agent,
 * and whose `when` (when given) holds for the submitted body (`/input/amount`
 * reads the body's input). Globs are the scopes' (`*` matches any run of
 * characters, dots included).
 */
export function compileApprovalRules(rules: readonly ApprovalRuleConfig[]): ApprovalRuleMatcher {
  const compiled = rules.map((rule, index) => ({
    index,
    rule,
    tool: globToRegExp(rule.tools),
    agents: rule.agents?.map((glob) => globToRegExp(glob)),
  }));
  return ({ body, tool, agentId }) => {
    for (const c of compiled) {
      if (!c.tool.test(tool)) continue;
      if (c.agents && !c.agents.some((re) => re.test(agentId))) continue;
      if (c.rule.when && !conditionHolds(c.rule.when, body)) continue;
      return { index: c.index, rule: c.rule };
    }
    return undefined;
  };
}

/** What the record keeps of the rule that held a job, and until when. */
export function holdOf(index: number, rule: ApprovalRuleConfig, now: Date): JobHold {
  const held: HeldByRule = { index, tools: rule.tools, timeoutSeconds: rule.timeoutSeconds };
  if (rule.when) held.when = { ...rule.when };
  if (rule.agents) held.agents = [...rule.agents];
  return { rule: held, expiresAt: new Date(now.getTime() + rule.timeoutSeconds * 1000).toISOString() };
}
