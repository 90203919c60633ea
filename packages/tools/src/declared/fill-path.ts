import { ToolError } from '../tool-error';

/** `{name}`: the placeholder syntax of declared paths, `poll.path`, `verify.path` and `verify.query` values. */
const PLACEHOLDER = /\{([^}/]+)\}/g;

function scalarOf(values: Record<string, unknown>, name: string, where: string): string {
  const value = values[name];
  if (value === undefined || value === null || typeof value === 'object') {
    // The input schema should have required it; refuse rather than call "/contacts/undefined".
    throw new ToolError('VALIDATION_ERROR', { message: `${where} parameter "${name}" is missing or not a scalar` });
  }
  return String(value);
}

/**
 * Fills `{param}` placeholders of a declared tool's path from the input and
 * returns the input fields that were not used, which become the query string
 * or the body.
 */
export function fillPath(template: string, input: Record<string, unknown>): { path: string; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = { ...input };
  const path = template.replace(PLACEHOLDER, (_, name: string) => {
    const value = scalarOf(input, name, 'path');
    delete rest[name];
    return encodeURIComponent(value);
  });
  return { path, rest };
}

/** Fills the placeholders of a query value; left unencoded, since the HTTP client encodes the query. */
export function fillQueryValue(template: string, values: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => scalarOf(values, name, 'query'));
}
