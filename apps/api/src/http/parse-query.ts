import type { z } from 'zod';
import { ProblemError, toPointer } from '@broker/shared/errors/problem';

/** Validates a route's query string: the parsed values, or 422 VALIDATION_ERROR with a pointer per bad parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new ProblemError(
      'VALIDATION_ERROR',
      'Invalid query parameters.',
      parsed.error.issues.map((i) => ({ pointer: toPointer(i.path), message: i.message })),
    );
  }
  return parsed.data;
}
