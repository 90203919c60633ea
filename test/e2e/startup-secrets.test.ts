import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { parseConfig } from '@broker/shared/config/load';
import { requiredSecrets, unreadableSecrets } from '@broker/tools/secrets/required-secrets';
import { ROOT, writeConfigFile } from '../helpers/processes';
import { StubServer } from '../helpers/stub-server';

/**
 * `docker compose up` without a `.env` must not look healthy while every
 * request is 401: the api and the worker (their built entry points, as compose
 * runs them) exit 1 at start naming every secret the config names that the
 * secrets provider cannot give, before they touch Redis.
 */

const EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'broker.config.example.json'), 'utf8')) as Record<string, unknown>;
const EXAMPLE_SECRETS = [
  'AGENT_A_KEY',
  'BROKER_ADMIN_TOKEN',
  'DEMO_API_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'GITHUB_WEBHOOK_SECRET',
  'SHOPIFY_WEBHOOK_SECRET',
  'ACME_WEBHOOK_SECRET',
  'TRIGGER_SIGNING_SECRET',
  'CALLBACK_SIGNING_SECRET',
];

/** Runs `apps/<app>/dist/main.js` with only `env` (and PATH); resolves with its exit code and output. */
function run(app: 'api' | 'worker', env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stderr: string; stdout: string }> {
  // Nothing listens on port 9: a process that got as far as Redis would hang in reconnects, not exit.
  const child = spawn(process.execPath, [join(ROOT, 'apps', app, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL: 'redis://127.0.0.1:9', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} did not exit within ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

/** What each process reads of the example config (the api serves agents and webhooks; the worker calls, signs and sends). */
const NEEDS: Record<'api' | 'worker', string[]> = {
  api: ['AGENT_A_KEY', 'BROKER_ADMIN_TOKEN', 'DEMO_API_KEY', 'STRIPE_WEBHOOK_SECRET', 'GITHUB_WEBHOOK_SECRET', 'SHOPIFY_WEBHOOK_SECRET', 'ACME_WEBHOOK_SECRET'],
  worker: ['DEMO_API_KEY', 'TRIGGER_SIGNING_SECRET', 'CALLBACK_SIGNING_SECRET'],
};

describe.each(['api', 'worker'] as const)('%s started without the secrets the config names', (app) => {
  it('exits 1 naming every missing one it reads, where the config names it, and how to provide it', async () => {
    const { code, stderr, stdout } = await run(app, { BROKER_CONFIG: join(ROOT, 'broker.config.example.json'), AGENT_A_KEY: 'a-key', ACME_WEBHOOK_SECRET: ' , ' });
    const missing = NEEDS[app].filter((n) => n !== 'AGENT_A_KEY');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^${app}: cannot start: ${missing.length} secrets named by the config cannot be read:\n`));
    for (const name of missing) expect(stderr).toMatch(new RegExp(`^  - ${name}: not set; named at `, 'm'));
    for (const name of EXAMPLE_SECRETS.filter((n) => !missing.includes(n))) expect(stderr).not.toContain(name);
    expect(stderr).toContain('  - DEMO_API_KEY: not set; named at integrations.demo.auth');
    expect(stderr).toContain('Set each as an environment variable (docker compose: in .env, see .env.example');
    expect(stderr).not.toContain('a-key');
  });

  it('names the files it looked for with SECRETS_PROVIDER=file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-secrets-'));
    for (const name of EXAMPLE_SECRETS.filter((n) => n !== 'DEMO_API_KEY')) writeFileSync(join(dir, name), `${name.toLowerCase()}-value\n`);
    const { code, stderr } = await run(app, { BROKER_CONFIG: join(ROOT, 'broker.config.example.json'), SECRETS_PROVIDER: 'file', SECRETS_DIR: dir });
    expect(code).toBe(1);
    expect(stderr).toContain(`${app}: cannot start: a secret named by the config cannot be read:\n  - DEMO_API_KEY: not set; named at integrations.demo.auth\n`);
    expect(stderr).toContain('SECRETS_PROVIDER=file: write each to a file of that name in $SECRETS_DIR.');
  });
});

it.each(['api', 'worker'] as const)('%s exits 1 naming a declared tool schema that does not compile, before reading any secret', async (app) => {
  const config = writeConfigFile({
    integrations: { crm: { baseUrl: 'http://127.0.0.1:9', tools: [{ name: 'crm.save', method: 'POST', path: '/save', output: { type: 'nonsense' } }] } },
  });
  const { code, stderr } = await run(app, { BROKER_CONFIG: config });
  expect(code).toBe(1);
  expect(stderr).toContain('integrations.crm.tools.0.output: schema is invalid: data/type must be equal to one of the allowed values');
  expect(stderr).not.toMatch(/\n\s+at /);
});

it('wants the admin token in the worker only when it serves its own /metrics', async () => {
  const env = { BROKER_CONFIG: join(ROOT, 'broker.config.example.json'), WORKER_METRICS_PORT: '0', ...Object.fromEntries(NEEDS.worker.map((n) => [n, 'x'])) };
  const { code, stderr } = await run('worker', env);
  expect(code).toBe(1);
  expect(stderr).toContain('worker: cannot start: a secret named by the config cannot be read:\n  - BROKER_ADMIN_TOKEN: not set; named at admin.token\n');
});

it('asks Vault too, and says when Vault cannot be read', async () => {
  const vault = await StubServer.start((req) =>
    req.path.endsWith('/AGENT_KEY') ? { status: 200, body: { data: { data: { value: 'k' } } } } : { status: 404, body: { errors: [] } },
  );
  try {
    const config = writeConfigFile({
      agents: [{ id: 'agent', key: { secret: 'AGENT_KEY' }, scopes: ['tools:*'] }],
      integrations: { crm: { baseUrl: 'http://127.0.0.1:9', auth: { type: 'apiKey', secret: 'CRM_KEY' }, tools: [{ name: 'crm.ping', method: 'GET', path: '/ping' }] } },
    });
    const vaultEnv = { BROKER_CONFIG: config, SECRETS_PROVIDER: 'vault', VAULT_TOKEN: 'hvs.test' };
    const missing = await run('worker', { ...vaultEnv, VAULT_ADDR: vault.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('  - CRM_KEY: not set; named at integrations.crm.auth\nSECRETS_PROVIDER=vault: write each to Vault');
    const down = await run('api', { ...vaultEnv, VAULT_ADDR: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/- AGENT_KEY: cannot be read: cannot reach Vault to read secret AGENT_KEY/);
    expect(down.stderr).not.toContain('hvs.test');
  } finally {
    await vault.close();
  }
});

describe('requiredSecrets', () => {
  it('lists every secret a config names, once each with every place that names it, in file order; each process reads its own', () => {
    const config = parseConfig({
      agents: [
        { id: 'a', key: { secret: 'AGENT_KEYS' } },
        { id: 'b', key: { secret: 'AGENT_KEYS' } },
        { id: 'c', key: { sha256: 'ab'.repeat(32) } },
      ],
      admin: { token: { secret: 'ADMIN' } },
      integrations: {
        crm: {
          baseUrl: 'https://crm.example.com',
          auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: 'https://crm.example.com/token', clientId: 'id', clientSecret: 'CRM_CLIENT_SECRET' },
          connections: { eu: { auth: { type: 'apiKey', secret: 'CRM_EU_KEY' } } },
          mtls: { cert: 'CRM_CERT', key: 'CRM_KEY', ca: 'CRM_CA' },
        },
      },
      webhooks: { acme: { type: 'standard', secret: 'ACME' } },
      routes: [{ source: 'acme', event: '*', trigger: 't' }],
      triggerDelivery: { url: 'https://agent.example.com/hooks', format: 'openclaw', secret: 'TRIGGERS', openclaw: { token: 'OPENCLAW_TOKEN' } },
      callbacks: { secret: 'CALLBACKS' },
      alerts: { webhook: { format: 'standard', urlSecret: 'ALERT_URL', secret: 'ALERT_SIGNING' } },
    });
    expect(requiredSecrets(config)).toEqual([
      { name: 'AGENT_KEYS', usedBy: ['agents[0].key ("a")', 'agents[1].key ("b")'] },
      { name: 'ADMIN', usedBy: ['admin.token'] },
      { name: 'CRM_CLIENT_SECRET', usedBy: ['integrations.crm.auth.clientSecret'] },
      { name: 'CRM_EU_KEY', usedBy: ['integrations.crm.connections.eu.auth'] },
      { name: 'CRM_CERT', usedBy: ['integrations.crm.mtls.cert'] },
      { name: 'CRM_KEY', usedBy: ['integrations.crm.mtls.key'] },
      { name: 'CRM_CA', usedBy: ['integrations.crm.mtls.ca'] },
      { name: 'ACME', usedBy: ['webhooks.acme'] },
      { name: 'TRIGGERS', usedBy: ['triggerDelivery'] },
      { name: 'OPENCLAW_TOKEN', usedBy: ['triggerDelivery.openclaw.token'] },
      { name: 'CALLBACKS', usedBy: ['callbacks'] },
      { name: 'ALERT_URL', usedBy: ['alerts.webhook.urlSecret'] },
      { name: 'ALERT_SIGNING', usedBy: ['alerts.webhook.secret'] },
      { name: 'BROKER_ENCRYPTION_KEY', usedBy: ['the OAuth tokens stored for oauth2 integrations'] },
    ]);
    expect(requiredSecrets(parseConfig({}))).toEqual([]);
    const names = (readers: Parameters<typeof requiredSecrets>[1]) => requiredSecrets(config, readers).map((r) => r.name);
    expect(names(['api'])).toEqual(['AGENT_KEYS', 'ADMIN', 'CRM_CLIENT_SECRET', 'CRM_EU_KEY', 'ACME', 'BROKER_ENCRYPTION_KEY']);
    expect(names(['worker'])).toEqual([
      'CRM_CLIENT_SECRET',
      'CRM_EU_KEY',
      'CRM_CERT',
      'CRM_KEY',
      'CRM_CA',
      'TRIGGERS',
      'OPENCLAW_TOKEN',
      'CALLBACKS',
      'ALERT_URL',
      'ALERT_SIGNING',
      'BROKER_ENCRYPTION_KEY',
    ]);
    expect(names(['worker', 'worker-metrics'])).toEqual(['ADMIN', ...names(['worker'])]);
  });

  it('checks that the OAuth encryption key is usable, not only set', async () => {
    const config = parseConfig({
      integrations: {
        crm: {
          baseUrl: 'https://crm.example.com',
          auth: { type: 'oauth2', grant: 'authorization_code', tokenUrl: 'https://crm.example.com/token', clientId: 'id', clientSecret: 'CRM_SECRET' },
        },
      },
    });
    const env = { CRM_SECRET: 's', BROKER_ENCRYPTION_KEY: 'not-32-bytes' };
    expect(await unreadableSecrets(config, envSecretsProvider(env))).toEqual([
      { name: 'BROKER_ENCRYPTION_KEY', usedBy: [expect.any(String)], problem: 'must be 32 bytes encoded as base64 (openssl rand -base64 32)' },
    ]);
    expect(await unreadableSecrets(config, envSecretsProvider({ ...env, BROKER_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }))).toEqual([]);
  });

  it('is what the example config needs, and .env.example lists each for compose', () => {
    expect(requiredSecrets(parseConfig(EXAMPLE)).map((s) => s.name)).toEqual(EXAMPLE_SECRETS);
    const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
    const compose = parseConfig(JSON.parse(readFileSync(join(ROOT, 'docker/broker.config.compose.json'), 'utf8')));
    for (const { name } of requiredSecrets(compose)) expect(envExample).toMatch(new RegExp(`^${name}=`, 'm'));
  });
});
