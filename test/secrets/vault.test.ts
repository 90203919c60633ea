import { randomBytes } from 'node:crypto';
import { createSecretsProvider } from '@broker/tools/secrets/provider';
import { secretsSettingsFromEnv } from '@broker/tools/secrets/settings';
import { VaultError, vaultSecretsProvider } from '@broker/tools/secrets/vault';
import { asToolError, vaultHttp } from '@broker/tools';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';

/**
 * The Vault provider against a local stand-in of Vault's HTTP API: the KV v2
 * read (`GET /v1/{mount}/data/{path}` with `X-Vault-Token`, the value under
 * `data.data`), 404 for an unknown path, 403 for a bad token.
 */
const VAULT_TOKEN = `hvs.${randomBytes(12).toString('hex')}`;
/** The provider's requests, as the api and worker build them (no egress proxy here). */
const http = vaultHttp();
/** KV v2 secrets by full path below the API root, e.g. `secret/data/broker/NAME`. */
const kv = new Map<string, Record<string, unknown>>();
let vault: StubServer;

function kvRead(req: StubRequest): StubReply {
  if (req.method !== 'GET' || !req.path.startsWith('/v1/')) return { status: 405, body: { errors: [] } };
  if (req.headers['x-vault-token'] !== VAULT_TOKEN) return { status: 403, body: { errors: ['permission denied'] } };
  const data = kv.get(decodeURIComponent(req.path.slice('/v1/'.length)));
  if (!data) return { status: 404, body: { errors: [] } };
  return {
    status: 200,
    body: { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { data, metadata: { version: 1, destroyed: false } } },
  };
}

beforeAll(async () => {
  vault = await StubServer.start(kvRead);
});

afterAll(async () => {
  await vault.close();
});

describe('vaultSecretsProvider', () => {
  it('reads data.data.value from {mount}/data/{prefix}{name} with X-Vault-Token', async () => {
    kv.set('secret/data/broker/API_KEY', { value: ' key-1\n' });
    kv.set('kv-prod/data/API_KEY', { value: 'key-in-other-mount' });
    const secrets = vaultSecretsProvider({ addr: `${vault.url}/`, token: VAULT_TOKEN, pathPrefix: 'broker/' }, http);
    expect(secrets.kind).toBe('vault');
    expect(await secrets.get('API_KEY')).toBe('key-1');
    const last = vault.requests.at(-1)!;
    expect(last.path).toBe('/v1/secret/data/broker/API_KEY');
    expect(last.headers['x-vault-token']).toBe(VAULT_TOKEN);

    const otherMount = vaultSecretsProvider({ addr: vault.url, token: VAULT_TOKEN, mount: 'kv-prod' }, http);
    expect(await otherMount.get('API_KEY')).toBe('key-in-other-mount');
  });

  it('treats a 404 or a secret without "value" as unset, and never builds a path from a non-name', async () => {
    kv.set('secret/data/NO_VALUE', { other: 'x' });
    const secrets = vaultSecretsProvider({ addr: vault.url, token: VAULT_TOKEN }, http);
    expect(await secrets.get('MISSING')).toBeUndefined();
    expect(await secrets.get('NO_VALUE')).toBeUndefined();
    const before = vault.count();
    expect(await secrets.get('../sys/seal-status')).toBeUndefined();
    expect(vault.count()).toBe(before);
  });

  it('fails loudly (without the token) when Vault refuses or cannot be reached', async () => {
    const refused = await vaultSecretsProvider({ addr: vault.url, token: 'wrong-token' }, http)
      .get('API_KEY')
      .catch((e: Error) => e);
    expect(refused).toBeInstanceOf(VaultError);
    expect((refused as Error).message).toMatch(/403.*API_KEY/);
    const down = await vaultSecretsProvider({ addr: 'http://127.0.0.1:9', token: VAULT_TOKEN }, http)
      .get('API_KEY')
      .catch((e: Error) => e);
    expect(down).toBeInstanceOf(VaultError);
    expect((down as Error).message).not.toContain(VAULT_TOKEN);
    // A job that meets it is retried later rather than failed for good.
    expect(asToolError(down)).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
  });

  it('caches for at most a second, then sees a rotated value; concurrent reads share one request', async () => {
    kv.set('secret/data/ROTATED', { value: 'old' });
    let now = 1_000_000;
    const secrets = vaultSecretsProvider({ addr: vault.url, token: VAULT_TOKEN, now: () => now }, http);
    const before = vault.count();
    const values = await Promise.all(Array.from({ length: 20 }, () => secrets.get('ROTATED')));
    expect(new Set(values)).toEqual(new Set(['old']));
    expect(vault.count() - before).toBe(1);

    kv.set('secret/data/ROTATED', { value: 'new' });
    now += 999;
    expect(await secrets.get('ROTATED')).toBe('old');
    now += 1;
    expect(await secrets.get('ROTATED')).toBe('new');
    expect(vault.count() - before).toBe(2);
  });

  it('is selected by SECRETS_PROVIDER=vault, and its settings are checked', async () => {
    const { settings, problems } = secretsSettingsFromEnv({
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: vault.url,
      VAULT_TOKEN,
      VAULT_PATH_PREFIX: 'broker/',
    });
    expect(problems).toEqual([]);
    expect(settings).toMatchObject({ provider: 'vault', mount: 'secret', pathPrefix: 'broker/' });
    kv.set('secret/data/broker/SELECTED', { value: 'via-settings' });
    expect(await createSecretsProvider(settings, { vaultHttp: http }).get('SELECTED')).toBe('via-settings');

    expect(secretsSettingsFromEnv({ SECRETS_PROVIDER: 'vault' }).problems).toEqual([
      expect.stringMatching(/^VAULT_ADDR: required/),
      expect.stringMatching(/^VAULT_TOKEN: required/),
    ]);
    expect(secretsSettingsFromEnv({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'vault:8200', VAULT_TOKEN: 't' }).problems).toEqual([
      expect.stringMatching(/^VAULT_ADDR: .* is not an http\(s\) URL/),
    ]);
    expect(secretsSettingsFromEnv({ SECRETS_PROVIDER: 'aws' }).problems).toEqual([expect.stringMatching(/not one of env, file, vault/)]);
  });
});

describe('the api process with SECRETS_PROVIDER=vault', () => {
  const prefix = uniquePrefix('vault-api');
  let api: RunningProcess | undefined;

  afterAll(async () => {
    if (api) await stopApp(api);
    await dropPrefix(prefix);
  });

  it('authenticates agents with keys from Vault and picks up a rotated key without a restart', async () => {
    const oldKey = `agent-old-${randomBytes(6).toString('hex')}`;
    const newKey = `agent-new-${randomBytes(6).toString('hex')}`;
    kv.set('secret/data/broker/AGENT_KEY', { value: oldKey });
    const config = writeConfigFile({
      agents: [{ id: 'agent', key: { secret: 'AGENT_KEY' }, scopes: ['tools:*'] }],
      integrations: { demo: { baseUrl: 'http://127.0.0.1:9', tools: [{ name: 'demo.ping', method: 'GET', path: '/ping' }] } },
    });
    api = await startApp(
      'api',
      { BROKER_CONFIG: config, BROKER_REDIS_PREFIX: prefix, PORT: '0', SECRETS_PROVIDER: 'vault', VAULT_ADDR: vault.url, VAULT_TOKEN, VAULT_PATH_PREFIX: 'broker/' },
      'api listening',
    );
    const port = /"port":(\d+)/.exec(api.output())![1];
    const tools = (key: string) => fetch(`http://127.0.0.1:${port}/v1/tools`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

    expect(await tools(oldKey)).toBe(200);
    expect(await tools(newKey)).toBe(401);
    kv.set('secret/data/broker/AGENT_KEY', { value: newKey });
    await waitFor(async () => (await tools(newKey)) === 200, { timeoutMs: 5000, intervalMs: 100, what: 'the rotated key to work' });
    expect(await tools(oldKey)).toBe(401);
    expect(api.output()).not.toContain(VAULT_TOKEN);
  });
});
