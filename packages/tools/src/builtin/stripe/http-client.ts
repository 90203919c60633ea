import Stripe from 'stripe';
import type { HttpRequest, IntegrationHttp } from '../../types';

/**
 * Headers the SDK adds that our HTTP layer owns (auth, content type and
 * length, the idempotency key: the SDK keys every POST with a fresh random
 * uuid, ours comes from the job) or that we do not send (the SDK's telemetry
 * and client fingerprint).
 */
const OWNED_BY_US = new Set([
  'authorization',
  'accept',
  'content-type',
  'content-length',
  'user-agent',
  'idempotency-key',
  'x-stripe-client-user-agent',
  'x-stripe-client-telemetry',
]);

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** An answer `ctx.http` already read and parsed, handed to the SDK. */
class ParsedResponse extends Stripe.HttpClientResponse {
  constructor(
    status: number,
    headers: Record<string, string>,
    private readonly body: unknown,
  ) {
    super(status, headers);
  }

  override getRawResponse(): unknown {
    return {};
  }

  override toStream(): never {
    throw new Error('streamed Stripe responses are not supported by the broker');
  }

  override toJSON(): Promise<unknown> {
    return Promise.resolve(this.body);
  }
}

/**
 * The Stripe SDK's transport, replaced by the tool's `ctx.http`: one HTTP path
 * for every integration, so auth (the secret key or OAuth token from our
 * credentials layer), the base URL from the config (a sandbox or a stub),
 * timeouts, the job's idempotency key, status classification into tool
 * errors, rate-limit observation and logging are ours, while the SDK still
 * builds Stripe's requests (paths, form encoding of nested params,
 * `Stripe-Version`) and types the answers.
 *
 * A non-2xx never reaches the SDK: `ctx.http` throws the classified ToolError,
 * which the SDK wraps as a StripeConnectionError's `detail` (see `stripeCall`).
 */
export class BrokerStripeHttpClient extends Stripe.HttpClient {
  constructor(private readonly http: IntegrationHttp) {
    super();
  }

  override getClientName(): string {
    return 'agent-request-broker';
  }

  override async makeRequest(_host: string, _port: string, path: string, method: string, headers: Record<string, unknown>, requestData: string): Promise<ParsedResponse> {
    const verb = method.toUpperCase();
    if (!METHODS.has(verb)) throw new Error(`unsupported method ${method}`);
    const forwarded: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && value !== null && !OWNED_BY_US.has(name.toLowerCase())) forwarded[name] = String(value);
    }
    const req: HttpRequest = { method: verb as HttpRequest['method'], path, headers: forwarded };
    // Stripe encodes every key flat (`metadata[k]`, `items[0][price]`), so the pairs round-trip as they are.
    if (requestData) req.form = Object.fromEntries(new URLSearchParams(requestData));
    const res = await this.http.request(req);
    return new ParsedResponse(res.status, res.headers, res.data);
  }
}
