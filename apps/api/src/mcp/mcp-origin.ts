import type { RequestHandler } from 'express';
import { ProblemError } from '@broker/shared/errors/problem';

/** `scheme://host[:port]` of a URL, lower-cased with default ports dropped; undefined when unparsable. */
function originOf(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * The origin the request was addressed to (its scheme and Host), when a browser could
 * not have been tricked into it: an IP literal or `localhost` resolves without DNS, so
 * no rebinding can put an attacker's page there. A DNS name in Host is exactly what a
 * rebinding attack controls (Host evil.example.com, Origin http://evil.example.com), so
 * such a name counts as the API's own only through BROKER_PUBLIC_URL or mcp.allowedOrigins.
 */
function ownOrigin(protocol: string, host: string | undefined): string | undefined {
  if (!host) return undefined;
  const origin = originOf(`${protocol}://${host}`);
  if (!origin) return undefined;
  const { hostname } = new URL(origin);
  const literal = /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith('[') || hostname === 'localhost' || hostname.endsWith('.localhost');
  return literal ? origin : undefined;
}

/**
 * DNS rebinding protection for `/mcp` (the MCP Streamable HTTP transport says servers
 * MUST validate `Origin`): a request whose `Origin` is present and is neither the API's
 * own origin (see {@link ownOrigin}; BROKER_PUBLIC_URL's origin too)
 * nor in `mcp.allowedOrigins` is refused 403 before authentication or any MCP work.
 * Without `Origin` (non-browser clients) the request goes on as before.
 */
export function mcpOriginCheck(options: { allowedOrigins?: readonly string[]; publicUrl?: string | undefined }): RequestHandler {
  const allowed = new Set<string>();
  for (const text of [...(options.allowedOrigins ?? []), ...(options.publicUrl ? [options.publicUrl] : [])]) {
    const origin = originOf(text);
    if (origin) allowed.add(origin);
  }
  return (req, _res, next) => {
    const header = req.headers.origin;
    if (header === undefined) return next();
    const origin = originOf(header);
    const own = ownOrigin(req.protocol, req.headers.host);
    if (origin && (origin === own || allowed.has(origin))) return next();
    throw new ProblemError('FORBIDDEN', `Origin "${header}" may not call /mcp: it is not this API's origin nor in mcp.allowedOrigins.`);
  };
}
