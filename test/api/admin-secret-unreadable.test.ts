import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createLogger } from '@broker/shared/logger';
import { fileSecretsProvider } from '@broker/tools/secrets/provider';
import { adminToken } from '../helpers/config';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { bearer, KEYS, listenApi, testConfig, type ListeningApi } from './harness';

/**
 * An admin token the secrets provider cannot read (Vault down, a file that
 * cannot be read) answers 503, never a 500, and does not lock agent keys out
 * of the operator routes their scopes open (as one agent's unreadable key does
 * not lock out the others).
 */
const prefix = uniquePrefix('admin-unreadable');
let dir: string;
let api: ListeningApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'admin-unreadable-'));
  writeFileSync(join(dir, 'AGENT_B_KEY'), KEYS.bNew);
  // A directory where the secret's file should be: reading it fails (EISDIR), even as root.
  mkdirSync(join(dir, 'BROKER_ADMIN_TOKEN'));
  api = await listenApi({ config: testConfig({ admin: adminToken }), secrets: fileSecretsProvider(dir), logger: createLogger({ name: 'api-test', level: 'silent' }), prefix });
});

afterAll(async () => {
  await api?.close();
  await dropPrefix(prefix);
  rmSync(dir, { recursive: true, force: true });
});

it('lets an agent key with the scope through an operator route', async () => {
  await request(api.base).get('/v1/events').set(bearer(KEYS.bNew)).expect(200);
});

it('answers any other token 503 UNAVAILABLE with Retry-After, on operator routes and /metrics', async () => {
  for (const path of ['/v1/events', '/metrics']) {
    const res = await request(api.base).get(path).set(bearer('maybe-the-admin-token')).expect(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(res.headers['retry-after']).toBe('5');
  }
});
