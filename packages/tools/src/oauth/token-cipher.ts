import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { splitSecretValues, type SecretsProvider } from '../secrets/provider';
import { EncryptionKeyError } from './encryption-key-error';

/** The secret that holds the at-rest key (docs/oauth.md, docs/security.md#what-is-stored-and-how). */
export const ENCRYPTION_KEY_SECRET = 'BROKER_ENCRYPTION_KEY';

const FORMAT = 'v1';
const IV_BYTES = 12; // NIST SP 800-38D: 96-bit IVs for GCM
const TAG_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseKey(value: string, secretName: string): Buffer {
  const key = BASE64.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new EncryptionKeyError(`secret ${secretName} must be 32 bytes encoded as base64 (openssl rand -base64 32)`);
  }
  return key;
}

/**
 * AES-256-GCM for values kept in Redis (OAuth tokens, PKCE verifiers).
 *
 * - A fresh random 12-byte IV per write: GCM loses confidentiality and
 *   integrity if an IV repeats under one key.
 * - `context` is authenticated data: a ciphertext copied to another
 *   integration's or connection's key fails to open instead of handing that
 *   connection someone else's token.
 * - The key is read through the secrets provider at each use, so it rotates like
 *   every other secret: the value may list several keys (`new,old`); the first
 *   seals, every one is tried to open, and the next write re-seals with the first.
 */
export class TokenCipher {
  constructor(
    private readonly secrets: SecretsProvider,
    private readonly secretName: string = ENCRYPTION_KEY_SECRET,
  ) {}

  private async keys(): Promise<Buffer[]> {
    const values = splitSecretValues(await this.secrets.get(this.secretName));
    if (values.length === 0) throw new EncryptionKeyError(`secret ${this.secretName} is not set; tokens cannot be stored encrypted`);
    return values.map((v) => parseKey(v, this.secretName));
  }

  /** Fails early (e.g. before an OAuth redirect) when the key is unusable. */
  async check(): Promise<void> {
    await this.keys();
  }

  async seal(plaintext: string, context: string): Promise<string> {
    const [key] = await this.keys();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  async open(sealed: string, context: string): Promise<string> {
    const [format, ivText, tagText, bodyText] = sealed.split('.');
    if (format !== FORMAT || ivText === undefined || tagText === undefined || bodyText === undefined) {
      throw new EncryptionKeyError('stored ciphertext is not in a known format');
    }
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    for (const key of await this.keys()) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        // Wrong key (or tampered data): try the next key of a rotation.
      }
    }
    throw new EncryptionKeyError(`stored tokens cannot be decrypted with ${this.secretName} (was the key replaced without keeping the old one?)`);
  }
}
