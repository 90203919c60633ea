import type { AgentConfig } from '@broker/shared/config/schema';
import type { Logger } from '@broker/shared/logger';
import { AccessTokenRefusedError } from './access-token-refused-error';
import type { AuthenticatedAgent } from './agent-auth';
import { IssuerUnavailableError } from './issuer-unavailable-error';
import type { IssuerKeys } from './issuer-keys';
import { loadJose, type Jose } from './jose';
import { intersectScopes, scopeClaim } from './scope-intersection';
import { compileConnections, compileToolScopes } from './scopes';

/**
 * Signature algorithms an access token may use: asymmetric only, so no key the
 * broker holds could forge one; never `none`, never HS* (a public key used as an
 * HMAC secret is the classic algorithm-confusion forgery).
 */
export const ACCEPTED_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

/** Clock skew allowed on `exp` and `nbf`. @defaultValue 30 s */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** A compact JWS: three base64url segments (the signature empty for `alg: none`, which is then refused by name). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token);
}

/** Checks an access token and answers the agent it speaks for. */
export type AccessTokenVerifier = (token: string, audiences: readonly string[]) => Promise<AuthenticatedAgent>;

/** Why jose refused a token, in words for the client (no claim values, no key material). */
function reasonOf(jose: typeof Jose, err: InstanceType<typeof Jose.errors.JOSEError>): string {
  if (err instanceof jose.errors.JWTExpired) return 'the token has expired';
  if (err instanceof jose.errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'the token was not issued by the configured authorization server';
    if (err.claim === 'aud') return "the token's audience is not this broker's MCP URL";
    if (err.claim === 'nbf') return 'the token is not valid yet';
    return `the token's ${err.claim} claim is missing or invalid`;
  }
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return "the signature does not verify with the issuer's keys";
  if (err instanceof jose.errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (err instanceof jose.errors.JOSEAlgNotAllowed) return `the token's algorithm is not accepted (${ACCEPTED_ALGORITHMS.join(', ')})`;
  return 'the token is not a valid signed JWT';
}

/**
 * Verifies a JWT access token from the configured authorization server
 * (docs/mcp-and-openclaw.md#oauth-for-mcp-clients, the MCP authorization spec): its signature by one of the
 * issuer's keys ({@link IssuerKeys}), `iss` equal to the issuer, `aud` naming one
 * of `audiences`, `exp` present and not past, `nbf` not ahead (both give
 * {@link CLOCK_TOLERANCE_SECONDS}), and an algorithm of {@link ACCEPTED_ALGORITHMS}.
 * The agent is the one whose id is the `agentClaim` claim; its scopes are the
 * token's `scope` claim intersected with the agent's ({@link intersectScopes}),
 * its connections the agent's own.
 *
 * Throws {@link AccessTokenRefusedError} for a token that is not good (401), and
 * {@link IssuerUnavailableError} when the issuer's keys cannot be read (503).
 */
export function accessTokenVerifier(options: { issuer: string; agentClaim: string; agents: readonly AgentConfig[]; keys: IssuerKeys; logger: Logger }): AccessTokenVerifier {
  const agents = new Map(options.agents.map((agent) => [agent.id, { agent, mayUseConnection: compileConnections(agent.connections) }]));
  return async (token, audiences) => {
    const jose = await loadJose();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jose.jwtVerify(token, options.keys.keyFor, {
        issuer: options.issuer,
        audience: [...audiences],
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof IssuerUnavailableError) throw err;
      if (err instanceof jose.errors.JOSEError) throw new AccessTokenRefusedError(reasonOf(jose, err));
      // WebCrypto refusing a key the issuer published (a DOMException), or a token jose could not even parse:
      // refusing is the safe answer, and the log tells the operator which.
      options.logger.warn({ err: (err as Error).message }, 'access token check failed unexpectedly');
      throw new AccessTokenRefusedError('the token could not be verified', { cause: err });
    }
    const id = payload[options.agentClaim];
    const known = typeof id === 'string' ? agents.get(id) : undefined;
    if (!known) throw new AccessTokenRefusedError(`the token's ${options.agentClaim} claim names no agent of this broker`);
    const scopes = intersectScopes(known.agent.scopes, scopeClaim(payload.scope));
    const held = new Set(scopes);
    return { id: known.agent.id, mayUseTool: compileToolScopes(scopes), mayUseConnection: known.mayUseConnection, hasScope: (s) => held.has(s) };
  };
}
