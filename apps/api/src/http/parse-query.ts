import type { z } from 'zod';
import { ProblemError, toPointer } from '@broker/shared/errors/problem';

/**
 * Validates a route's query string: the parsed values, or 422 VALIDATION_ERROR
 * with a pointer per bad parameter. A strict schema (the list routes') also
 * names each parameter it does not know: a misspelled filter must not quietly
 * answer with everything.
 */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new ProblemError(
      'VALIDATION_ERROR',
      'Invalid query parameters.',
      parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ pointer: toPointer([key]), message: 'is not a known parameter' }))
          : [{ pointer: toPointer(issue.path), message: issue.message }],
      ),
    );
  }
  return parsed.data;
}
