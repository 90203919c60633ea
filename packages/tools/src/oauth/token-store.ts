import type { RedisClient } from '@broker/redis/connection';
import { LuaScript } from '@broker/redis/lua-script';
import type { RedisKeys } from '@broker/redis/keys';
import type { TokenCipher } from './token-cipher';
import type { TokenSet } from './tokens';

/** A connection's stored OAuth state. Everything but `tokens` is plain metadata, safe to read without the key. */
export interface StoredConnection {
  /** `needs_reauth` after the provider refused the refresh token; cleared by a connect or an import. */
  status: 'ok' | 'needs_reauth';
  /** The fencing token of the last write; 0 when nothing was ever written. Changes on every write. */
  version: number;
  hasTokens: boolean;
  expiresAt?: number;
  refreshable: boolean;
  /** Why the connection needs re-authorisation (the provider's error code). */
  reason?: string;
}

export interface StoredTokens extends StoredConnection {
  /** Decrypted; present when `hasTokens`. */
  tokens?: TokenSet;
}

// KEYS: lock, fence counter. ARGV: ttlMs. The fencing token, or nil when the lock is held.
const ACQUIRE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return fence
`);

// KEYS: lock. ARGV: fence. Only the holder releases.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

// Shared tail of the write scripts: `fence` is the write's version, ARGV[2] the status, the rest field/value pairs.
const WRITE_BODY = `
local fields = {'version', fence, 'status', ARGV[2]}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HDEL', KEYS[1], 'tokens', 'expiresAt', 'refreshable', 'reason', 'basis', 'obtainedAt')
redis.call('HSET', KEYS[1], unpack(fields))
`;

/*
 * A refusal (needs_reauth). KEYS: tokens hash, lock. ARGV: fence, status, field, value, ...
 * Written only while the lock still holds this fence AND no later write
 * (an import, a newer holder) has happened: a holder whose lock expired
 * mid-refresh cannot overwrite what came after it.
 */
const WRITE_FENCED = new LuaScript(`
local fence = tonumber(ARGV[1])
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') >= fence then return 0 end
${WRITE_BODY}
return fence`);

/*
 * A refreshed token set. KEYS: tokens hash, lock, fence counter.
 * ARGV: fence, status, 'basis', basis, 'obtainedAt', obtainedAt, field, value, ...
 * `basis` is the version the refresh read (and whose refresh token it spent),
 * `obtainedAt` when the token endpoint answered.
 *
 * While the lock holds the fence and nothing was written since, the set is
 * written under the fence (1). Once the lock has lapsed (a slow token
 * endpoint, a slow write) the set is still written, under a fresh version
 * (2): the provider has already rotated the refresh token it replaces, so
 * dropping it would leave a dead one stored and the next refresh would get
 * invalid_grant. Only a newer write wins over it (0): an import or callback
 * (no basis), a refresh of a later set (another basis), or a set obtained
 * later from the same basis. A refusal (needs_reauth) from the same basis
 * does not: it is what spending an already rotated refresh token earns.
 */
const WRITE_REFRESHED = new LuaScript(`
local fence = tonumber(ARGV[1])
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local kind = 1
if redis.call('GET', KEYS[2]) ~= ARGV[1] or version >= fence then
  if version ~= tonumber(ARGV[4]) then
    if redis.call('HGET', KEYS[1], 'basis') ~= ARGV[4] then return 0 end
    if redis.call('HGET', KEYS[1], 'status') ~= 'needs_reauth' and tonumber(redis.call('HGET', KEYS[1], 'obtainedAt') or '0') >= tonumber(ARGV[6]) then return 0 end
  end
  fence = redis.call('INCR', KEYS[3])
  kind = 2
end
${WRITE_BODY}
return kind`);

// KEYS: tokens hash, fence counter. ARGV: (ignored), status, field, value, ... An operator's write always wins.
const WRITE_IMPORT = new LuaScript(`
local fence = redis.call('INCR', KEYS[2])
${WRITE_BODY}
return fence`);

/** What became of a refreshed token set: see {@link OAuthTokenStore.writeRefreshed}. */
export type RefreshedWrite = 'stored' | 'stored_after_lapse' | 'superseded';

/** Where a refreshed token set comes from, so that a write after a lapsed lock can tell whether it is still the newest. */
export interface RefreshOrigin {
  /** The fencing token of the refresh lock the refresher took. */
  fence: number;
  /** The stored version the refresher read under that lock: the set whose refresh token it spent. */
  basis: number;
  /** ms since epoch, when the token endpoint answered. */
  obtainedAt: number;
}

/** The JSON inside the sealed `tokens` field (access, refresh, expiry, issued). */
interface SealedTokens {
  a: string;
  r?: string;
  e?: number;
  i?: number;
}

function context(integration: string, connection: string): string {
  return `broker:oauth-tokens:v1\n${integration}\n${connection}`;
}

/**
 * The OAuth tokens of each connection, in one Redis hash per connection:
 * `tokens` is the sealed JSON of access + refresh token + expiry (one field, so
 * a rotated refresh token can never be stored without its access token or the
 * other way round); the other fields are non-secret state. Every write takes a
 * fencing token from the connection's counter (`version`); the hash, its
 * lock and its counter share one hash slot, so each script stays in it.
 */
export class OAuthTokenStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly cipher: TokenCipher,
  ) {}

  /** State without decrypting anything (for /v1/integrations). */
  async state(integration: string, connection: string): Promise<StoredConnection> {
    const hash = await this.redis.hgetall(this.keys.oauthTokens(integration, connection));
    return this.parse(hash);
  }

  /** State and the decrypted tokens. */
  async read(integration: string, connection: string): Promise<StoredTokens> {
    const hash = await this.redis.hgetall(this.keys.oauthTokens(integration, connection));
    const state = this.parse(hash);
    if (!hash.tokens) return state;
    const json = JSON.parse(await this.cipher.open(hash.tokens, context(integration, connection))) as SealedTokens;
    const tokens: TokenSet = { accessToken: json.a };
    if (json.r !== undefined) tokens.refreshToken = json.r;
    if (json.e !== undefined) tokens.expiresAt = json.e;
    if (json.i !== undefined) tokens.issuedAt = json.i;
    return { ...state, tokens };
  }

  /** Seeds or replaces tokens (operator import, OAuth callback): wins over any refresh in flight. */
  async importTokens(integration: string, connection: string, tokens: TokenSet): Promise<number> {
    const fields = await this.tokenFields(integration, connection, tokens);
    return WRITE_IMPORT.run<number>(this.redis, [this.keys.oauthTokens(integration, connection), this.keys.oauthFence(integration, connection)], ['0', 'ok', ...fields]);
  }

  /** Takes the refresh lock; the fencing token, or undefined when another process holds it. */
  async acquireLock(integration: string, connection: string, ttlMs: number): Promise<number | undefined> {
    const fence = await ACQUIRE.run<number | null>(
      this.redis,
      [this.keys.oauthLock(integration, connection), this.keys.oauthFence(integration, connection)],
      [String(Math.ceil(ttlMs))],
    );
    return fence ?? undefined;
  }

  async releaseLock(integration: string, connection: string, fence: number): Promise<void> {
    await RELEASE.run(this.redis, [this.keys.oauthLock(integration, connection)], [String(fence)]);
  }

  async isLocked(integration: string, connection: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.oauthLock(integration, connection))) === 1;
  }

  /**
   * Stores a refreshed token set in one write. `stored`: under the refresh
   * lock, as usual. `stored_after_lapse`: the lock had lapsed, but nothing
   * newer was written meanwhile, so the set is kept (its refresh token is the
   * only live one once the provider rotated). `superseded`: an import or a
   * newer refresh came after it; the stored state stays.
   */
  async writeRefreshed(integration: string, connection: string, origin: RefreshOrigin, tokens: TokenSet): Promise<RefreshedWrite> {
    const fields = await this.tokenFields(integration, connection, tokens);
    const written = await WRITE_REFRESHED.run<number>(
      this.redis,
      [this.keys.oauthTokens(integration, connection), this.keys.oauthLock(integration, connection), this.keys.oauthFence(integration, connection)],
      [String(origin.fence), 'ok', 'basis', String(origin.basis), 'obtainedAt', String(origin.obtainedAt), ...fields],
    );
    return written === 1 ? 'stored' : written === 2 ? 'stored_after_lapse' : 'superseded';
  }

  /**
   * Marks the connection as needing a new connect/import and drops the refused
   * tokens, fenced like a write; false when the lock lapsed or a newer write
   * exists. `basis` (the version whose refresh token was refused) lets a set
   * refreshed from that same token, stored late, win over this refusal.
   */
  async markNeedsReauth(integration: string, connection: string, fence: number, reason: string, basis?: number): Promise<boolean> {
    const written = await WRITE_FENCED.run<number>(
      this.redis,
      [this.keys.oauthTokens(integration, connection), this.keys.oauthLock(integration, connection)],
      [String(fence), 'needs_reauth', 'refreshable', '0', 'reason', reason, ...(basis === undefined ? [] : ['basis', String(basis)])],
    );
    return written !== 0;
  }

  private async tokenFields(integration: string, connection: string, tokens: TokenSet): Promise<string[]> {
    const json: SealedTokens = { a: tokens.accessToken };
    if (tokens.refreshToken) json.r = tokens.refreshToken;
    if (tokens.expiresAt !== undefined) json.e = tokens.expiresAt;
    if (tokens.issuedAt !== undefined) json.i = tokens.issuedAt;
    const sealed = await this.cipher.seal(JSON.stringify(json), context(integration, connection));
    const fields = ['tokens', sealed, 'refreshable', tokens.refreshToken ? '1' : '0'];
    if (tokens.expiresAt !== undefined) fields.push('expiresAt', String(tokens.expiresAt));
    return fields;
  }

  private parse(hash: Record<string, string>): StoredConnection {
    const state: StoredConnection = {
      status: hash.status === 'needs_reauth' ? 'needs_reauth' : 'ok',
      version: Number(hash.version ?? 0),
      hasTokens: Boolean(hash.tokens),
      refreshable: hash.refreshable === '1',
    };
    if (hash.expiresAt) state.expiresAt = Number(hash.expiresAt);
    if (hash.reason) state.reason = hash.reason;
    return state;
  }
}
