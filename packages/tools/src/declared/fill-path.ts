import { ToolError } from '../tool-error';

/**
 * Fills `{param}` placeholders of a declared tool's path from the input and
 * returns the input fields that were not used, which become the query string
 * or the body.
 */
export function fillPath(template: string, input: Record<string, unknown>): { path: string; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = { ...input };
  const path = template.replace(/\{([^}/]+)\}/g, (_, name: string) => {
    const value = input[name];
    if (value === undefined || value === null || typeof value === 'object') {
      // The input schema should have required it; refuse rather than call "/contacts/undefined".
      throw new ToolError('VALIDATION_ERROR', { message: `path parameter "${name}" is missing or not a scalar` });
    }
    delete rest[name];
    return encodeURIComponent(String(value));
  });
  return { path, rest };
}
