import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '@broker/redis/connection';
import type { RedisKeys } from '@broker/redis/keys';
import type { TokenCipher } from './token-cipher';

/** What the callback needs to finish a connect: which connection, the PKCE verifier, the exact redirect URI. */
export interface AuthorizationRequest {
  integration: string;
  connection: string;
  codeVerifier: string;
  redirectUri: string;
}

/** How long a user has between connect and callback. @defaultValue 10 minutes */
export const AUTHORIZATION_REQUEST_TTL_MS = 10 * 60 * 1000;

const CONTEXT = 'broker:oauth-state:v1';
const hashOf = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');

/**
 * Pending authorization-code requests. The `state` sent to the provider is 32
 * random bytes; Redis keeps only its hash as the key (a key listing reveals no
 * usable state) and the request sealed as the value (the PKCE verifier is a
 * secret until the code is exchanged). Taking a request deletes it (GETDEL),
 * so a state works once.
 */
export class AuthorizationRequestStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly cipher: TokenCipher,
    private readonly ttlMs: number = AUTHORIZATION_REQUEST_TTL_MS,
  ) {}

  /** Stores the request and returns the `state` to send to the provider. */
  async begin(request: AuthorizationRequest): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    const sealed = await this.cipher.seal(JSON.stringify(request), CONTEXT);
    await this.redis.set(this.keys.oauthState(hashOf(state)), sealed, 'PX', this.ttlMs);
    return state;
  }

  /** The request `state` stands for, at most once; undefined when unknown, used or expired. */
  async take(state: string): Promise<AuthorizationRequest | undefined> {
    const sealed = await this.redis.getdel(this.keys.oauthState(hashOf(state)));
    if (!sealed) return undefined;
    return JSON.parse(await this.cipher.open(sealed, CONTEXT)) as AuthorizationRequest;
  }
}
