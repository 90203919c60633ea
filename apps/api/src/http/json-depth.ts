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

/** The path to the first value nested deeper than `max`, or undefined. Iterative: the check itself cannot overflow. */
export function tooDeep(value: unknown, max = MAX_JSON_DEPTH): PropertyKey[] | undefined {
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (path.length >= max) return path;
    // Object.keys: own enumerable keys only, so a "__proto__" key sent in the body is walked like any other.
    for (const key of Object.keys(current)) {
      stack.push({ value: (current as Record<string, unknown>)[key], path: [...path, Array.isArray(current) ? Number(key) : key] });
    }
  }
  return undefined;
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
