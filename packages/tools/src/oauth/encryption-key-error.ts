/**
 * `BROKER_ENCRYPTION_KEY` is unset, is not 32 bytes of base64, or none of its
 * values opens a stored ciphertext (the key was replaced without keeping the old
 * one in the list). The message names the secret, never its value.
 */
export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}
