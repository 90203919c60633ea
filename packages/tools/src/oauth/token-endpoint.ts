import type { AxiosInstance } from 'axios';
import { OAuthError } from './oauth-error';
import { splitSecretValues, type SecretsProvider } from '../secrets/provider';
import type { OAuth2Auth, TokenSet } from './tokens';
import { createHttpClient } from '../http/http-client';
import { blankCredentials, quotedForms } from '../http/redact-credentials';
import type { EgressProxy } from '../http/upstream-agents';

/** @defaultValue 10000: shorter than the refresh lock (30 s), so a holder never outlives its lock. */
export const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

/** A token answer is a small JSON document; anything larger is not one. @defaultValue 1 MiB */
const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024;

const DESCRIPTION_LIMIT = 200;

/** Lower than the HTTP layer's minimum: a description is a sentence to read, not an answer to parse, so blanking a short value costs little. */
const MIN_ECHOED_LENGTH = 4;

/** The HTTP client of token requests; build one per process ({@link tokenEndpointClient}) and pass it to each request. */
export interface TokenEndpointClient {
  readonly http: AxiosInstance;
}

/**
 * The client for every token endpoint a process calls, through the egress
 * proxy unless NO_PROXY names the provider's host. The factory's defaults are
 * what a token request needs: no redirects (a request carrying the client
 * secret must not be replayed elsewhere), no retries, every status answered.
 */
export function tokenEndpointClient(options: { proxy?: EgressProxy | undefined } = {}): TokenEndpointClient {
  return { http: createHttpClient({ proxy: options.proxy, maxBytes: MAX_TOKEN_ANSWER_BYTES }) };
}

export interface TokenEndpointOptions {
  /** Names the integration and connection in error messages. */
  integration: string;
  connection: string;
  timeoutMs?: number;
  now?: () => number;
  /** The process's client ({@link tokenEndpointClient}), built once with its egress proxy. */
  client: TokenEndpointClient;
}

/** Token responses are JSON (RFC 6749 §5.1); GitHub answers form-encoded to clients that do not ask for JSON. */
function parseBody(text: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The provider's words, without any secret we sent in any form (some servers
 * echo the refused value, URL-encoded or inside JSON text they quote).
 */
function describe(body: Record<string, unknown>, sent: string[]): string {
  let text = typeof body.error_description === 'string' ? body.error_description : '';
  text = blankCredentials(text, quotedForms(sent, MIN_ECHOED_LENGTH));
  text = text.replace(/\s+/g, ' ').trim();
  if (text.length > DESCRIPTION_LIMIT) text = `${text.slice(0, DESCRIPTION_LIMIT)}…`;
  return text ? ` (${text})` : '';
}

/**
 * One request to an OAuth token endpoint (RFC 6749 §3.2): form-encoded, the
 * client authenticated in the body (`client_secret_post`, the default) or with
 * HTTP Basic (`client_secret_basic`, §2.3.1). Errors are {@link OAuthError}s
 * whose messages carry the provider's `error` code and never a token, a code
 * or the client secret; transport errors are not kept as causes because they
 * hold the request body.
 */
export async function requestToken(auth: OAuth2Auth, secrets: SecretsProvider, params: Record<string, string>, options: TokenEndpointOptions): Promise<TokenSet> {
  const where = `token endpoint of "${options.integration}" (connection "${options.connection}")`;
  const [clientSecret] = splitSecretValues(await secrets.get(auth.clientSecret));
  if (!clientSecret) throw new OAuthError('rejected', `cannot call the ${where}: secret ${auth.clientSecret} is not set`);

  const form = new URLSearchParams(params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'user-agent': 'agent-request-broker',
  };
  if (auth.tokenAuthMethod === 'client_secret_basic') {
    // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
    const encode = (v: string) => new URLSearchParams({ v }).toString().slice(2);
    headers.authorization = `Basic ${Buffer.from(`${encode(auth.clientId)}:${encode(clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', auth.clientId);
    form.set('client_secret', clientSecret);
  }
  const sent = [clientSecret, ...Object.values(params)];

  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  // A deadline on the whole exchange (axios' `timeout` is an idle timer, which a trickling answer never trips).
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let body: Record<string, unknown>;
  try {
    const res = await options.client.http.post<string>(auth.tokenUrl, form.toString(), { headers, signal });
    status = res.status;
    body = parseBody(typeof res.data === 'string' ? res.data : '', String(res.headers['content-type'] ?? ''));
  } catch (err) {
    const code = signal.aborted ? `no answer within ${timeoutMs} ms` : ((err as { code?: string }).code ?? 'network error');
    throw new OAuthError('unavailable', `${where} could not be reached: ${code}`);
  }

  const error = typeof body.error === 'string' ? body.error : undefined;
  if (status >= 500 || status === 429) throw new OAuthError('unavailable', `${where} answered ${status}${error ? ` ${error}` : ''}`, error);
  // GitHub answers 200 with an `error` field.
  if (status < 200 || status >= 300 || error) {
    const message = `${where} answered ${status}${error ? ` ${error}` : ''}${describe(body, sent)}`;
    // invalid_grant refuses a grant someone must renew (a code, a refresh token): re-authorise. A client
    // credentials grant has nothing to renew (its grant is the client's own credentials), and providers answer
    // it so for a wrong secret or a client not allowed the grant: a rejected client, fixed in the config.
    const reauth = error === 'invalid_grant' && params.grant_type !== 'client_credentials';
    throw new OAuthError(reauth ? 'needs_reauth' : 'rejected', message, error);
  }
  const accessToken = body.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new OAuthError('unavailable', `${where} answered ${status} without an access_token`);
  }
  const issuedAt = now();
  const tokens: TokenSet = { accessToken, issuedAt };
  if (typeof body.refresh_token === 'string' && body.refresh_token !== '') tokens.refreshToken = body.refresh_token;
  const expiresIn = Number(body.expires_in);
  if (body.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn > 0) tokens.expiresAt = issuedAt + expiresIn * 1000;
  return tokens;
}
