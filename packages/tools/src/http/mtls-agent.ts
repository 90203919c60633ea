import { createHash } from 'node:crypto';
import type { Agent as HttpAgent } from 'node:http';
import { createSecureContext } from 'node:tls';
import type { IntegrationConfig } from '@broker/shared/config/schema';
import type { SecretsProvider } from '../secrets/provider';
import { ToolError } from '../tool-error';
import { httpsUpstreamAgent } from './upstream-agents';

type MtlsConfig = NonNullable<IntegrationConfig['mtls']>;

/**
 * The https agent of an integration that authenticates with a client
 * certificate. The PEMs are secrets, read at each call (providers cache them
 * briefly); when they change — a renewed certificate — a new agent (a new TLS
 * context and pool) replaces the old one, which is destroyed once no request
 * can still be using it (after the integration's timeout), so a rotation
 * needs no restart.
 */
export class MtlsAgent {
  private current: { fingerprint: string; agent: HttpAgent } | undefined;

  constructor(
    private readonly integrationName: string,
    private readonly mtls: MtlsConfig,
    private readonly secrets: SecretsProvider,
    /** @defaultValue the integration's timeout + 1 s */
    private readonly retireAfterMs: number,
    /** The egress proxy (see upstreamProxy): the client certificate is presented inside its tunnel. */
    private readonly proxy?: string,
  ) {}

  async agent(): Promise<HttpAgent> {
    const [cert, key, ca] = await Promise.all([
      this.secrets.get(this.mtls.cert),
      this.secrets.get(this.mtls.key),
      this.mtls.ca ? this.secrets.get(this.mtls.ca) : Promise.resolve(undefined),
    ]);
    const unset = [!cert && this.mtls.cert, !key && this.mtls.key, this.mtls.ca && !ca && this.mtls.ca].filter(Boolean);
    if (!cert || !key || unset.length > 0) {
      throw new ToolError('AUTHENTICATION_FAILED', {
        message: `mTLS for "${this.integrationName}": secret ${unset.join(', ')} is not set`,
      });
    }
    const fingerprint = createHash('sha256')
      .update(`${cert}\0${key}\0${ca ?? ''}`)
      .digest('hex');
    if (this.current?.fingerprint === fingerprint) return this.current.agent;

    try {
      // Fails here, with a clear message, on a malformed PEM or a key that does not match the certificate.
      createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
    } catch (err) {
      throw new ToolError('AUTHENTICATION_FAILED', {
        message: `mTLS for "${this.integrationName}": the certificate, key or CA is not usable (${(err as { code?: string }).code ?? 'invalid PEM'})`,
      });
    }
    const previous = this.current;
    this.current = { fingerprint, agent: httpsUpstreamAgent(this.proxy, { cert, key, ...(ca ? { ca } : {}) }) };
    if (previous) setTimeout(() => previous.agent.destroy(), this.retireAfterMs).unref();
    return this.current.agent;
  }
}
