import type { AuthConfig, BrokerConfig } from '@broker/shared/config/schema';
import { EncryptionKeyError } from '../oauth/encryption-key-error';
import { ENCRYPTION_KEY_SECRET, TokenCipher } from '../oauth/token-cipher';
import { splitSecretValues, type SecretsProvider } from './provider';

/**
 * Who reads a secret: the api; the worker; the worker's own `/metrics` server
 * (only with WORKER_METRICS_PORT), which checks the admin token.
 */
export type SecretReader = 'api' | 'worker' | 'worker-metrics';

/** Every reader: what a deployment that runs them all must provide (`.env.example` for compose). */
export const ALL_SECRET_READERS: readonly SecretReader[] = ['api', 'worker', 'worker-metrics'];

/** A secret the config names, and every place that names it (`agents[0].key`, `webhooks.stripe`…). */
export interface RequiredSecret {
  name: string;
  usedBy: string[];
}

/** A required secret the provider could not give: unset (or only commas), or the read itself failed. */
export interface UnreadableSecret extends RequiredSecret {
  problem: string;
}

type Use = [name: string, at: string, readers: readonly SecretReader[]];

// The api reads an integration's credential too: GET /v1/integrations reports a connection
// whose secret is unset as "missing", and the OAuth callback exchanges the code with clientSecret.
const INTEGRATION_READERS: readonly SecretReader[] = ['api', 'worker'];

function authSecrets(auth: AuthConfig | undefined, at: string): Use[] {
  if (auth?.type === 'apiKey') return [[auth.secret, at, INTEGRATION_READERS]];
  if (auth?.type === 'oauth2') return [[auth.clientSecret, `${at}.clientSecret`, INTEGRATION_READERS]];
  return [];
}

const usesOAuth = (config: BrokerConfig) =>
  Object.values(config.integrations).some(
    (integration) => integration.auth.type === 'oauth2' || Object.values(integration.connections ?? {}).some((c) => c.auth?.type === 'oauth2'),
  );

/**
 * Every secret a config names (docs/configuration.md#configuration: the file names them, the provider
 * resolves them) that one of `readers` reads, in the order the file names
 * them, plus `BROKER_ENCRYPTION_KEY` when an integration uses OAuth (its
 * tokens are stored encrypted with it). A process that starts without one of
 * these answers 401 to every agent, or fails every job of an integration,
 * while looking healthy: the api and the worker check theirs at start.
 * The worker leaves out the agents' keys (it serves no agent) and the webhook
 * secrets (the api verifies webhooks); the api leaves out what only the
 * worker signs or sends with (triggers, callbacks, alerts, mTLS).
 */
export function requiredSecrets(config: BrokerConfig, readers: readonly SecretReader[] = ALL_SECRET_READERS): RequiredSecret[] {
  const uses: Use[] = [];
  config.agents.forEach((agent, i) => {
    if ('secret' in agent.key) uses.push([agent.key.secret, `agents[${i}].key ("${agent.id}")`, ['api']]);
  });
  if (config.admin) uses.push([config.admin.token.secret, 'admin.token', ['api', 'worker-metrics']]);
  for (const [name, integration] of Object.entries(config.integrations)) {
    uses.push(...authSecrets(integration.auth, `integrations.${name}.auth`));
    for (const [connection, settings] of Object.entries(integration.connections ?? {})) {
      uses.push(...authSecrets(settings.auth, `integrations.${name}.connections.${connection}.auth`));
    }
    const mtls = integration.mtls;
    if (mtls) {
      uses.push([mtls.cert, `integrations.${name}.mtls.cert`, ['worker']], [mtls.key, `integrations.${name}.mtls.key`, ['worker']]);
      if (mtls.ca) uses.push([mtls.ca, `integrations.${name}.mtls.ca`, ['worker']]);
    }
  }
  for (const [source, webhook] of Object.entries(config.webhooks)) uses.push([webhook.secret, `webhooks.${source}`, ['api']]);
  if (config.triggerDelivery) {
    uses.push([config.triggerDelivery.secret, 'triggerDelivery', ['worker']]);
    if (config.triggerDelivery.openclaw) uses.push([config.triggerDelivery.openclaw.token, 'triggerDelivery.openclaw.token', ['worker']]);
  }
  if (config.callbacks) uses.push([config.callbacks.secret, 'callbacks', ['worker']]);
  const hook = config.alerts?.webhook;
  if (hook?.urlSecret) uses.push([hook.urlSecret, 'alerts.webhook.urlSecret', ['worker']]);
  if (hook?.secret) uses.push([hook.secret, 'alerts.webhook.secret', ['worker']]);
  if (usesOAuth(config)) uses.push([ENCRYPTION_KEY_SECRET, 'the OAuth tokens stored for oauth2 integrations', ['api', 'worker']]);

  const byName = new Map<string, RequiredSecret>();
  for (const [name, at, readBy] of uses) {
    if (!readBy.some((reader) => readers.includes(reader))) continue;
    const entry = byName.get(name) ?? { name, usedBy: [] };
    entry.usedBy.push(at);
    byName.set(name, entry);
  }
  return [...byName.values()];
}

/**
 * The required secrets the provider cannot give now, read all at once (a
 * Vault read per name; the env and file providers read locally). A value of
 * only commas or spaces counts as unset: it holds no key.
 */
export async function unreadableSecrets(config: BrokerConfig, secrets: SecretsProvider, readers: readonly SecretReader[] = ALL_SECRET_READERS): Promise<UnreadableSecret[]> {
  const checks = requiredSecrets(config, readers).map(async (secret): Promise<UnreadableSecret | undefined> => {
    try {
      if (secret.name === ENCRYPTION_KEY_SECRET) {
        await new TokenCipher(secrets).check();
        return undefined;
      }
      const value = await secrets.get(secret.name);
      return splitSecretValues(value).length > 0 ? undefined : { ...secret, problem: 'not set' };
    } catch (err) {
      // The cipher's message names the secret and what it must be; a provider's says why it could not read it.
      const reason = err instanceof EncryptionKeyError ? err.message.replace(/^secret \S+ /, '') : `cannot be read: ${(err as Error).message}`;
      return { ...secret, problem: reason };
    }
  });
  return (await Promise.all(checks)).filter((s): s is UnreadableSecret => s !== undefined);
}

/** Where a provider looks for a secret, for a message that says how to fix it. */
export function secretsProviderHint(kind: string): string {
  switch (kind) {
    case 'file':
      return 'SECRETS_PROVIDER=file: write each to a file of that name in $SECRETS_DIR.';
    case 'vault':
      return 'SECRETS_PROVIDER=vault: write each to Vault (key "value") at $VAULT_MOUNT/data/$VAULT_PATH_PREFIX<NAME>.';
    default:
      return 'Set each as an environment variable (docker compose: in .env, see .env.example; `pnpm start` generates them).';
  }
}

/** The one message a process prints before exiting: every unreadable secret, where the config uses it, and how to provide it. */
export function describeUnreadableSecrets(missing: readonly UnreadableSecret[], providerKind: string): string {
  const lines = missing.map((s) => `  - ${s.name}: ${s.problem}; named at ${s.usedBy.join(', ')}`);
  const count = missing.length === 1 ? 'a secret' : `${missing.length} secrets`;
  return [`cannot start: ${count} named by the config cannot be read:`, ...lines, secretsProviderHint(providerKind)].join('\n');
}
