import type { Request } from 'express';
import { isLoopbackHostname } from '@broker/shared/config/mcp-schema';

/** RFC 9728 §3: the well-known path of protected resource metadata. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

/** Where `/mcp` is, for the request at hand. */
export interface McpResource {
  /** The broker's MCP URL, the `resource` of the metadata; undefined when the Host header makes no URL. */
  url(req: Request): string | undefined;
  /** The metadata document's URL, for `WWW-Authenticate: Bearer resource_metadata="…"`. */
  metadataUrl(req: Request): string | undefined;
  /** What a token's `aud` may name on this request (RFC 8707: only tokens issued for this resource). */
  audiences(req: Request): string[];
}

/** `scheme://host[:port][/path]` without a trailing slash, scheme and host lower-cased; undefined when unparsable. */
function baseUrl(text: string): { base: string; hostname: string } | undefined {
  try {
    const url = new URL(text);
    if (url.search || url.hash || url.username || url.password) return undefined;
    return { base: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, hostname: url.hostname };
  } catch {
    return undefined;
  }
}

/**
 * The MCP URL is `BROKER_PUBLIC_URL` + `/mcp` when the API knows its public URL;
 * otherwise it is worked out from the request's scheme and Host. The metadata is
 * at `<base>/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1: the
 * resource's path after the well-known one), so behind a proxy that mounts the
 * API under a path, the URL still reaches this API.
 *
 * Audiences: the MCP URL from `BROKER_PUBLIC_URL`, with or without a trailing
 * slash, and `mcp.authorizationServer.audience`. An MCP URL worked out from the
 * Host header is an audience only when that host is a loopback address: a DNS
 * name in Host is the caller's to choose, so otherwise a token minted for
 * another resource server of the same issuer could be replayed here under that
 * server's name.
 */
export function mcpResource(options: { publicUrl?: string | undefined; audience?: string | undefined }): McpResource {
  const fixed = options.publicUrl ? baseUrl(options.publicUrl) : undefined;
  const baseOf = (req: Request) => fixed ?? (req.get('host') ? baseUrl(`${req.protocol}://${req.get('host')}`) : undefined);
  const configured = options.audience ? [options.audience] : [];
  return {
    url: (req) => {
      const base = baseOf(req);
      return base && `${base.base}/mcp`;
    },
    metadataUrl: (req) => {
      const base = baseOf(req);
      return base && `${base.base}${PROTECTED_RESOURCE_PATH}/mcp`;
    },
    audiences: (req) => {
      const base = baseOf(req);
      const own = base && (fixed || isLoopbackHostname(base.hostname)) ? [`${base.base}/mcp`, `${base.base}/mcp/`] : [];
      return [...own, ...configured];
    },
  };
}
