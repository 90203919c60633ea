import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

/**
 * The egress proxy settings, as curl and most HTTP clients take them from
 * `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (the worker's
 * config.ts reads them).
 */
export interface EgressProxy {
  /** For http:// upstreams. */
  http?: string | undefined;
  /** For https:// upstreams. */
  https?: string | undefined;
  /** For either, when the scheme's own is unset. */
  all?: string | undefined;
  /** Hosts called direct: comma- or space-separated names (`.corp.example` or `corp.example` covers its subdomains), `host:port`, or `*`. */
  noProxy?: string | undefined;
}

/**
 * The proxy variables of an environment (handed over by an app's config.ts,
 * the only place that reads it), as curl reads them: the lower-case name first.
 */
export function egressProxyFromEnv(env: Readonly<Record<string, string | undefined>>): EgressProxy {
  const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  return { http: read('HTTP_PROXY'), https: read('HTTPS_PROXY'), all: read('ALL_PROXY'), noProxy: read('NO_PROXY') };
}

function exempt(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy
    .toLowerCase()
    .split(/[,\s]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      const [name, entryPort] = entry.startsWith('[') ? [entry.slice(1, entry.indexOf(']')), entry.split(']:')[1]] : entry.split(':');
      if (entryPort && entryPort !== port) return false;
      const bare = name!.replace(/^\*?\./, '');
      return host === bare || host.endsWith(`.${bare}`);
    });
}

/** The proxy for calls to `url` (undefined: call direct). */
export function upstreamProxy(url: string, proxy: EgressProxy | undefined): string | undefined {
  if (!proxy) return undefined;
  const parsed = new URL(url);
  const chosen = (parsed.protocol === 'https:' ? proxy.https : proxy.http) || proxy.all;
  if (!chosen || exempt(parsed, proxy.noProxy)) return undefined;
  return chosen;
}

/** Keep-alive agents for an integration's http and https calls, through `proxy` when there is one. */
export function upstreamAgents(proxy: string | undefined): { http: HttpAgent; https: HttpAgent } {
  return {
    http: proxy ? new HttpProxyAgent(proxy, { keepAlive: true }) : new HttpAgent({ keepAlive: true }),
    https: httpsUpstreamAgent(proxy, {}),
  };
}

type UpstreamTls = Pick<HttpsAgentOptions, 'cert' | 'key' | 'ca'>;

/**
 * HttpsProxyAgent uses its constructor's options for the connection to the
 * proxy only; the TLS session with the upstream, inside the tunnel, is made
 * from each request's options. This one adds the upstream's TLS options there,
 * and checks the certificate against the upstream's host (HttpsProxyAgent
 * drops the host when it is an IP address, which no SNI name can carry).
 */
class TunnelledTlsAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: string,
    private readonly tls: UpstreamTls,
  ) {
    super(proxy, { keepAlive: true });
  }

  override connect(req: Parameters<HttpsProxyAgent<string>['connect']>[0], opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    const host = opts.host;
    return super.connect(req, {
      ...opts,
      ...this.tls,
      checkServerIdentity: (hostname: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(host ?? hostname, cert),
    } as typeof opts);
  }
}

/**
 * An https agent with `tls` options for the upstream (a client certificate,
 * a CA): through `proxy`, they apply to the TLS session tunnelled inside the
 * proxy's CONNECT, end to end with the upstream.
 */
export function httpsUpstreamAgent(proxy: string | undefined, tls: UpstreamTls): HttpAgent {
  return proxy ? new TunnelledTlsAgent(proxy, tls) : new HttpsAgent({ keepAlive: true, ...tls });
}
