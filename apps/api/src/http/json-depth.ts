import type { RequestHandler } from 'express';
import { ProblemError, toPointer } from '@broker/shared/errors/problem';

/**
 * How deeply a JSON body may nest. A 1 MiB body can nest 500,000 levels;
 * V8's JSON.stringify recurses and overflows the stack a few thousand levels
 * down, which BullMQ meets when it stores the job (a 500, and worse in the
 * worker). No tool input needs more than a few dozen levels.
 * @defaultValue 64
 */
export const MAX_JSON_DEPTH = 64;

/** A container still to walk, linked to its parent so that its path is built only if it is too deep. */
interface Pending {
  value: object;
  depth: number;
  parent: Pending | undefined;
  key: PropertyKey;
}

/**
 * The path to the first value nested deeper than `max`, or undefined. Iterative: the check itself cannot overflow.
 * Only containers are stacked, and a path is built only for the one that is too deep: a 1 MiB array of
 * 500,000 numbers costs no allocation per number.
 */
export function tooDeep(value: unknown, max = MAX_JSON_DEPTH): PropertyKey[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Pending[] = [{ value, depth: 0, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (current.depth >= max) return pathOf(current);
    const push = (child: unknown, key: PropertyKey) => {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: current.depth + 1, parent: current, key });
    };
    const container = current.value;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) push(container[i], i);
    } else {
      // Object.keys: own enumerable keys only, so a "__proto__" key sent in the body is walked like any other.
      for (const key of Object.keys(container)) push((container as Record<string, unknown>)[key], key);
    }
  }
  return undefined;
}

/** The keys from the root down to `pending`. */
function pathOf(pending: Pending): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let at: Pending | undefined = pending; at?.parent; at = at.parent) path.push(at.key);
  return path.reverse();
}

/** Refuses a parsed body nested deeper than {@link MAX_JSON_DEPTH}: 422, before any handler sees it. */
export const limitJsonDepth: RequestHandler = (req, _res, next) => {
  const path = tooDeep(req.body);
  if (path) {
    throw new ProblemError('VALIDATION_ERROR', `The body nests deeper than ${MAX_JSON_DEPTH} levels.`, [
      { pointer: toPointer(path), message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
  next();
};
