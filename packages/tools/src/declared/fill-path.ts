import { ToolError } from '../tool-error';

/** `{name}`: the placeholder syntax of declared paths, `poll.path`, `verify.path` and `verify.query` values. */
const PLACEHOLDER = /\{([^}/]+)\}/g;

/**
 * A whole path segment that is `.` or `..`, with `%2e` for a dot as WHATWG URL
 * reads it. axios builds the URL with `new URL()`, which resolves these away
 * before the request leaves: `DELETE /contacts/{id}/notes/{noteId}` with
 * noteId ".." would send `DELETE /contacts/{id}`, an endpoint the tool does not
 * declare, with the connection's credential. Encoding the dots does not help
 * (`%2e%2e` is resolved too), so such a segment is refused.
 */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

function scalarOf(values: Record<string, unknown>, name: string, where: string): string {
  const value = values[name];
  if (value === undefined || value === null || typeof value === 'object') {
    // The input schema should have required it; refuse rather than call "/contacts/undefined".
    throw new ToolError('VALIDATION_ERROR', { message: `${where} parameter "${name}" is missing or not a scalar` });
  }
  return String(value);
}

/** A path segment filled from the named parameters, refused when it came out as a dot segment. */
function checkedSegment(segment: string, names: readonly string[]): string {
  if (!DOT_SEGMENT.test(segment)) return segment;
  const which = names.map((name) => `"${name}"`).join(', ');
  throw new ToolError('VALIDATION_ERROR', {
    message: `path parameter ${which} makes the path segment "${segment}": "." and ".." are refused, since the URL would be resolved to another endpoint`,
  });
}

/**
 * One path segment from an input value, percent-encoded, for a path a tool
 * builds itself. `.` and `..` are refused (see {@link DOT_SEGMENT}).
 */
export function pathSegment(value: string, name: string): string {
  return checkedSegment(encodeURIComponent(value), [name]);
}

/**
 * Fills `{param}` placeholders of a declared tool's path from the input and
 * returns the input fields that were not used, which become the query string
 * or the body. Checked segment by segment, so "{id}.json" with id "." is
 * allowed ("..json" is a name) while ".{ext}" with ext "" is not.
 */
export function fillPath(template: string, input: Record<string, unknown>): { path: string; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = { ...input };
  const fillSegment = (segment: string): string => {
    const names: string[] = [];
    const filled = segment.replace(PLACEHOLDER, (_, name: string) => {
      names.push(name);
      const value = scalarOf(input, name, 'path');
      delete rest[name];
      return encodeURIComponent(value);
    });
    return names.length === 0 ? filled : checkedSegment(filled, names);
  };
  return { path: template.split('/').map(fillSegment).join('/'), rest };
}

/** Fills the placeholders of a query value; left unencoded, since the HTTP client encodes the query. */
export function fillQueryValue(template: string, values: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => scalarOf(values, name, 'query'));
}
