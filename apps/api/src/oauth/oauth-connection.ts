import { authOfConnection } from '@broker/tools/secrets/connection-state';
import { EncryptionKeyError } from '@broker/tools/oauth/encryption-key-error';
import { ProblemError } from '@broker/shared/errors/problem';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { OAuth2Auth } from '@broker/tools/oauth/tokens';

/**
 * The oauth2 auth of a configured connection, or the problem an operator
 * should see: 404 for an unknown integration or connection, 409 `CONFLICT`
 * when the connection does not use OAuth (its state does not accept tokens).
 */
export function oauthConnection(config: BrokerConfig, integration: string, connection: string): OAuth2Auth {
  const integrationConfig = Object.hasOwn(config.integrations, integration) ? config.integrations[integration] : undefined;
  if (!integrationConfig) throw new ProblemError('NOT_FOUND', `No integration named "${integration}".`);
  // Own keys only: "constructor" or "__proto__" must not resolve through the prototype.
  const known = connection === 'default' || Object.hasOwn(integrationConfig.connections ?? {}, connection);
  const auth = known ? authOfConnection(integrationConfig, connection) : undefined;
  if (!auth) throw new ProblemError('NOT_FOUND', `Integration "${integration}" has no connection "${connection}".`);
  if (auth.type !== 'oauth2') {
    throw new ProblemError('CONFLICT', `Connection "${connection}" of "${integration}" uses ${auth.type} auth, not oauth2.`);
  }
  return auth;
}

/** A missing or malformed BROKER_ENCRYPTION_KEY is the operator's to fix; say so instead of a bare 500. */
export function encryptionProblem(err: unknown): unknown {
  if (err instanceof EncryptionKeyError) {
    return new ProblemError('INTERNAL', `The broker cannot encrypt or decrypt OAuth tokens: ${err.message}.`);
  }
  return err;
}
