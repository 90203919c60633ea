import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { EncryptionKeyError } from '@broker/tools/oauth/encryption-key-error';
import { envSecretsProvider } from '@broker/tools/secrets/provider';
import { OAuthError } from '@broker/tools/oauth/oauth-error';
import { OAuthTokenManager, type FetchToken } from '@broker/tools/oauth/token-manager';
import { OAuthTokenStore } from '@broker/tools/oauth/token-store';
import { oauthConnectionState } from '@broker/tools/oauth/oauth-connection-state';
import { parseConfig } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { TokenCipher } from '@broker/tools/oauth/token-cipher';
import type { OAuth2Auth, TokenSet } from '@broker/tools/oauth/tokens';
import { testLogger } from '../helpers/broker';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';

/**
 * The at-rest crypto, the fenced token store and the single-flight refresh,
 * against a real Redis. The token endpoint is played by a counting function
 * here (the HTTP side has its own tests against a real OAuth server).
 */
const prefix = uniquePrefix('oauth-store');
const keys = redisKeys(prefix);
let redis: Redis;
const key = () => randomBytes(32).toString('base64');
const env: Record<string, string | undefined> = { BROKER_ENCRYPTION_KEY: key(), CLIENT_SECRET: 'cs' };
const secrets = envSecretsProvider(env);
const cipher = new TokenCipher(secrets);
let store: OAuthTokenStore;

const auth: OAuth2Auth = {
  type: 'oauth2',
  grant: 'authorization_code',
  tokenUrl: 'http://127.0.0.1:9/token',
  clientId: 'client',
  clientSecret: 'CLIENT_SECRET',
  tokenAuthMethod: 'client_secret_post',
};

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  store = new OAuthTokenStore(redis, keys, cipher);
});

afterAll(async () => {
  redis.disconnect();
  await dropPrefix(prefix);
});

describe('TokenCipher (AES-256-GCM)', () => {
  it('round-trips, with a fresh IV per write', async () => {
    const a = await cipher.seal('secret-token', 'ctx');
    const b = await cipher.seal('secret-token', 'ctx');
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret-token');
    expect(await cipher.open(a, 'ctx')).toBe('secret-token');
    expect(Buffer.from(a.split('.')[1]!, 'base64url')).toHaveLength(12);
  });

  it('binds the ciphertext to its context (integration + connection)', async () => {
    const sealed = await cipher.seal('secret-token', 'crm\ndefault');
    await expect(cipher.open(sealed, 'crm\nother')).rejects.toThrow(EncryptionKeyError);
  });

  it('detects tampering and a wrong key, and opens with an old key during a rotation', async () => {
    const sealed = await cipher.seal('secret-token', 'ctx');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    await expect(cipher.open([parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'ctx')).rejects.toThrow(EncryptionKeyError);

    const old = env.BROKER_ENCRYPTION_KEY!;
    env.BROKER_ENCRYPTION_KEY = key();
    try {
      await expect(cipher.open(sealed, 'ctx')).rejects.toThrow(/cannot be decrypted/);
      env.BROKER_ENCRYPTION_KEY = `${env.BROKER_ENCRYPTION_KEY},${old}`;
      expect(await cipher.open(sealed, 'ctx')).toBe('secret-token');
    } finally {
      env.BROKER_ENCRYPTION_KEY = old;
    }
  });

  it('refuses a missing or malformed key, naming the secret and not the value', async () => {
    const noKey = new TokenCipher(envSecretsProvider({}));
    await expect(noKey.seal('x', 'ctx')).rejects.toThrow(/BROKER_ENCRYPTION_KEY is not set/);
    const shortKey = new TokenCipher(envSecretsProvider({ BROKER_ENCRYPTION_KEY: 'c2hvcnQ=' }));
    const err = await shortKey.seal('x', 'ctx').catch((e: Error) => e);
    expect(err).toBeInstanceOf(EncryptionKeyError);
    expect((err as Error).message).toMatch(/32 bytes/);
    expect((err as Error).message).not.toContain('c2hvcnQ=');
  });
});

describe('OAuthTokenStore', () => {
  it('keeps tokens sealed in one field, with plain non-secret state', async () => {
    await store.importTokens('crm', 'sealed', { accessToken: 'AT-plain-1', refreshToken: 'RT-plain-1', expiresAt: 1_900_000_000_000 });
    const hash = await redis.hgetall(keys.oauthTokens('crm', 'sealed'));
    expect(JSON.stringify(hash)).not.toMatch(/AT-plain-1|RT-plain-1/);
    expect(hash).toMatchObject({ status: 'ok', refreshable: '1', expiresAt: '1900000000000' });
    const read = await store.read('crm', 'sealed');
    expect(read.tokens).toEqual({ accessToken: 'AT-plain-1', refreshToken: 'RT-plain-1', expiresAt: 1_900_000_000_000 });

    // A sealed value copied to another connection's key does not open there.
    await redis.hset(keys.oauthTokens('crm', 'thief'), hash);
    await expect(store.read('crm', 'thief')).rejects.toThrow(EncryptionKeyError);
  });

  /** Seeds a connection and takes its refresh lock: the version the refresher read (its basis) and its fence. */
  async function holding(connection: string): Promise<{ basis: number; fence: number }> {
    const basis = await store.importTokens('crm', connection, { accessToken: 'seed', refreshToken: 'rt-seed' });
    return { basis, fence: (await store.acquireLock('crm', connection, 30_000))! };
  }
  /** The holder's lock lapses (deleted here, instead of waiting out its TTL). */
  const lapse = (connection: string) => redis.del(keys.oauthLock('crm', connection));
  const stored = async (connection: string) => (await store.read('crm', connection)).tokens?.accessToken;

  it('stores a refreshed set under the lock, and keeps one whose lock lapsed when nothing newer was stored', async () => {
    const held = await holding('fenced');
    expect(await store.acquireLock('crm', 'fenced', 30_000)).toBeUndefined();
    expect(await store.writeRefreshed('crm', 'fenced', { ...held, obtainedAt: 1 }, { accessToken: 'held', refreshToken: 'rt-held' })).toBe('stored');
    expect((await store.read('crm', 'fenced')).tokens).toEqual({ accessToken: 'held', refreshToken: 'rt-held' });
    await store.releaseLock('crm', 'fenced', held.fence);

    // The provider rotated the refresh token while the lock lapsed: the set is the only live one, so it is kept.
    const slow = await holding('w-lapsed');
    await lapse('w-lapsed');
    expect(await store.writeRefreshed('crm', 'w-lapsed', { ...slow, obtainedAt: 1 }, { accessToken: 'slow', refreshToken: 'rt-slow' })).toBe('stored_after_lapse');
    expect((await store.read('crm', 'w-lapsed')).tokens?.refreshToken).toBe('rt-slow');
    // Its version is new: the waiters of other processes see the write, and a new holder's fence is above it.
    const after = await store.state('crm', 'w-lapsed');
    expect(after.version).toBeGreaterThan(slow.fence);
    expect(await store.acquireLock('crm', 'w-lapsed', 30_000)).toBeGreaterThan(after.version);
  });

  it('after a lapse, a later set from the same refresh token wins, an earlier one does not', async () => {
    for (const [connection, staleObtainedAt, winner] of [
      ['w-raced-early', 1000, 'fresh'],
      ['w-raced-late', 3000, 'stale'],
    ] as const) {
      const stale = await holding(connection);
      await lapse(connection);
      const fresh = (await store.acquireLock('crm', connection, 30_000))!;
      expect(fresh).toBeGreaterThan(stale.fence);
      expect(await store.writeRefreshed('crm', connection, { fence: fresh, basis: stale.basis, obtainedAt: 2000 }, { accessToken: 'fresh' })).toBe('stored');
      const late = await store.writeRefreshed('crm', connection, { ...stale, obtainedAt: staleObtainedAt }, { accessToken: 'stale' });
      expect(late).toBe(winner === 'stale' ? 'stored_after_lapse' : 'superseded');
      expect(await stored(connection)).toBe(winner);
    }
  });

  it('after a lapse, the set wins over a refusal of the refresh token it rotated, in either order', async () => {
    // The second holder spent the same refresh token after the provider had rotated it: invalid_grant.
    const stale = await holding('w-refused');
    await lapse('w-refused');
    const second = (await store.acquireLock('crm', 'w-refused', 30_000))!;
    expect(await store.markNeedsReauth('crm', 'w-refused', second, 'invalid_grant', stale.basis)).toBe(true);
    expect(await store.writeRefreshed('crm', 'w-refused', { ...stale, obtainedAt: 1 }, { accessToken: 'rotated', refreshToken: 'rt-rotated' })).toBe('stored_after_lapse');
    expect(await store.read('crm', 'w-refused')).toMatchObject({ status: 'ok', refreshable: true, tokens: { accessToken: 'rotated', refreshToken: 'rt-rotated' } });
    expect((await store.state('crm', 'w-refused')).reason).toBeUndefined();

    // The other order: the late set first, then the refusal, which is refused.
    const first = await holding('w-refused-after');
    await lapse('w-refused-after');
    const other = (await store.acquireLock('crm', 'w-refused-after', 30_000))!;
    expect(await store.writeRefreshed('crm', 'w-refused-after', { ...first, obtainedAt: 1 }, { accessToken: 'rotated', refreshToken: 'rt-rotated' })).toBe('stored_after_lapse');
    expect(await store.markNeedsReauth('crm', 'w-refused-after', other, 'invalid_grant', first.basis)).toBe(false);
    expect(await store.state('crm', 'w-refused-after')).toMatchObject({ status: 'ok', refreshable: true });
  });

  it('after a lapse, an import or a refresh of a later set wins over the late set', async () => {
    // An operator's import during a refresh wins over the refresher's later write, lock held or not.
    const holder = await holding('w-imported');
    await store.importTokens('crm', 'w-imported', { accessToken: 'w-imported' });
    expect(await store.writeRefreshed('crm', 'w-imported', { ...holder, obtainedAt: Date.now() }, { accessToken: 'late-refresh' })).toBe('superseded');
    await lapse('w-imported');
    expect(await store.writeRefreshed('crm', 'w-imported', { ...holder, obtainedAt: Date.now() }, { accessToken: 'late-refresh' })).toBe('superseded');
    expect(await stored('w-imported')).toBe('w-imported');
    expect(await store.isLocked('crm', 'w-imported')).toBe(false);

    // A chain: another holder refreshed from the same token, a third from that one's set; the first one's set is older than both.
    const stale = await holding('w-chain');
    await lapse('w-chain');
    const second = (await store.acquireLock('crm', 'w-chain', 30_000))!;
    expect(await store.writeRefreshed('crm', 'w-chain', { fence: second, basis: stale.basis, obtainedAt: 1000 }, { accessToken: 'second' })).toBe('stored');
    await store.releaseLock('crm', 'w-chain', second);
    const basis = (await store.state('crm', 'w-chain')).version;
    const third = (await store.acquireLock('crm', 'w-chain', 30_000))!;
    expect(await store.writeRefreshed('crm', 'w-chain', { fence: third, basis, obtainedAt: 1001 }, { accessToken: 'third' })).toBe('stored');
    expect(await store.writeRefreshed('crm', 'w-chain', { ...stale, obtainedAt: 5000 }, { accessToken: 'stale' })).toBe('superseded');
    expect(await stored('w-chain')).toBe('third');
  });
});

describe('OAuthTokenManager', () => {
  function counting(answer: (n: number, req: Parameters<FetchToken>[0]) => TokenSet | Promise<TokenSet>) {
    const calls: Parameters<FetchToken>[0][] = [];
    const fetchToken: FetchToken = async (req) => {
      calls.push(req);
      // Leave time for every caller to pile up behind the refresh.
      await new Promise((r) => setTimeout(r, 50));
      return answer(calls.length, req);
    };
    return { calls, fetchToken };
  }

  it('refreshes an expiring token once for 50 concurrent callers in two "processes", rotating the refresh token', async () => {
    await store.importTokens('crm', 'busy', { accessToken: 'old', refreshToken: 'rt-1', expiresAt: Date.now() + 60_000 });
    const { calls, fetchToken } = counting((n) => ({ accessToken: `new-${n}`, refreshToken: `rt-${n + 1}`, expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() }));
    // Two managers with their own connections stand for two worker processes.
    const other = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    try {
      const managers = [
        new OAuthTokenManager({ store, fetchToken, logger: testLogger() }),
        new OAuthTokenManager({ store: new OAuthTokenStore(other, keys, cipher), fetchToken, logger: testLogger() }),
      ];
      const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => managers[i % 2]!.accessToken({ integration: 'crm', connection: 'busy', auth })));
      expect(calls).toHaveLength(1);
      expect(calls[0]!.refreshToken).toBe('rt-1');
      expect(new Set(tokens)).toEqual(new Set(['new-1']));
      expect((await store.read('crm', 'busy')).tokens).toMatchObject({ accessToken: 'new-1', refreshToken: 'rt-2' });
    } finally {
      other.disconnect();
    }
  });

  it('after a 401 refreshes once, and not again for a token someone else already replaced', async () => {
    await store.importTokens('crm', 'refused', { accessToken: 'revoked', refreshToken: 'rt-a', expiresAt: Date.now() + 3_600_000 });
    const { calls, fetchToken } = counting((n) => ({ accessToken: `fresh-${n}`, expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() }));
    const manager = new OAuthTokenManager({ store, fetchToken, logger: testLogger() });
    const request = { integration: 'crm', connection: 'refused', auth, forceRefresh: true, rejectedToken: 'revoked' };
    const first = await Promise.all(Array.from({ length: 10 }, () => manager.accessToken(request)));
    expect(new Set(first)).toEqual(new Set(['fresh-1']));
    // Later callers that were refused with the old token get the new one without a refresh.
    expect(await manager.accessToken(request)).toBe('fresh-1');
    expect(calls).toHaveLength(1);
    // Without a new refresh token in the answer, the old one is kept (RFC 6749 §6).
    expect((await store.read('crm', 'refused')).tokens?.refreshToken).toBe('rt-a');
  });

  it('marks the connection needs_reauth on invalid_grant, and an import clears it', async () => {
    await store.importTokens('crm', 'dead', { accessToken: 'old', refreshToken: 'rt-dead', expiresAt: Date.now() - 1000 });
    const fetchToken: FetchToken = async () => {
      throw new OAuthError('needs_reauth', 'token endpoint answered 400 invalid_grant', 'invalid_grant');
    };
    const manager = new OAuthTokenManager({ store, fetchToken, logger: testLogger() });
    const failed = await manager.accessToken({ integration: 'crm', connection: 'dead', auth }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OAuthError);
    expect((failed as OAuthError).kind).toBe('needs_reauth');
    const state = await store.state('crm', 'dead');
    expect(state).toMatchObject({ status: 'needs_reauth', hasTokens: false, reason: 'invalid_grant' });
    // Later calls fail at once, without asking the provider.
    await expect(manager.accessToken({ integration: 'crm', connection: 'dead', auth })).rejects.toThrow(/needs re-authorisation/);
    await store.importTokens('crm', 'dead', { accessToken: 'again' });
    expect(await manager.accessToken({ integration: 'crm', connection: 'dead', auth })).toBe('again');
  });

  it('fetches a client-credentials token on first use and keeps using it', async () => {
    const cc: OAuth2Auth = { ...auth, grant: 'client_credentials' };
    const { calls, fetchToken } = counting((n) => ({ accessToken: `cc-${n}`, expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() }));
    const manager = new OAuthTokenManager({ store, fetchToken, logger: testLogger() });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => manager.accessToken({ integration: 'svc', connection: 'default', auth: cc })));
    expect(new Set(tokens)).toEqual(new Set(['cc-1']));
    expect(await manager.accessToken({ integration: 'svc', connection: 'default', auth: cc })).toBe('cc-1');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.refreshToken).toBeUndefined();
  });

  it('says what to do when an authorization-code connection has no token', async () => {
    const manager = new OAuthTokenManager({ store, fetchToken: async () => ({ accessToken: 'never' }), logger: testLogger() });
    const err = (await manager.accessToken({ integration: 'crm', connection: 'nothing', auth }).catch((e: unknown) => e)) as OAuthError;
    expect(err.kind).toBe('missing');
    expect(err.message).toContain('/oauth/crm/connect?connection=nothing');
  });
});

describe('oauthConnectionState', () => {
  it('reads ok | needs_reauth | missing from the stored state', async () => {
    const config = parseConfig({
      integrations: {
        crm: {
          baseUrl: 'http://127.0.0.1:9',
          auth: {
            type: 'oauth2',
            grant: 'authorization_code',
            tokenUrl: 'http://127.0.0.1:9/t',
            authorizeUrl: 'http://127.0.0.1:9/a',
            clientId: 'c',
            clientSecret: 'CLIENT_SECRET',
          },
          connections: {
            sealed: {},
            dead: {},
            nothing: {},
            expired: {},
            svc: { auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: 'http://127.0.0.1:9/t', clientId: 'c', clientSecret: 'UNSET_SECRET' } },
          },
        },
      },
    });
    await store.importTokens('crm', 'expired', { accessToken: 'x', expiresAt: Date.now() - 1 });
    const state = oauthConnectionState(config, { secrets, tokens: new OAuthTokenStore(redis, keys, new TokenCipher(envSecretsProvider({}))) });
    expect(await state('crm', 'sealed')).toBe('ok');
    expect(await state('crm', 'nothing')).toBe('missing');
    expect(await state('crm', 'expired')).toBe('needs_reauth');
    expect(await state('crm', 'svc')).toBe('missing');
    env.UNSET_SECRET = 'now-set';
    expect(await state('crm', 'svc')).toBe('ok');
    await store.markNeedsReauth('crm', 'sealed', (await store.acquireLock('crm', 'sealed', 1000))!, 'invalid_grant');
    expect(await state('crm', 'sealed')).toBe('needs_reauth');
    expect(await state('crm', 'unknown')).toBe('missing');
  });
});
