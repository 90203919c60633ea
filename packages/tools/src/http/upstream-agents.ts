import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';

/**
 * The egress proxy for calls to `url`, from the environment as curl and most
 * HTTP clients read it: `HTTPS_PROXY` / `HTTP_PROXY` (or `ALL_PROXY`; lower
 * case too) by the URL's scheme, unless `NO_PROXY` names its host. Undefined:
 * call direct. Read when the worker starts.
 */
export function upstreamProxy(url: string): string | undefined {
  return getProxyForUrl(url) || undefined;
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
