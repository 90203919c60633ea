// Which secrets a broker config names, and dev values for the ones nobody provided.

import { randomBytes } from 'node:crypto';

/**
 * Every secret name a config references: the value of each `"secret"` key and of each
 * OAuth `clientSecret`, anywhere in the document (docs/configuration.md#configuration: the file only names them).
 *
 * @param {unknown} config parsed JSON
 * @returns {string[]} unique names in order of first appearance
 */
export function secretNames(config) {
  const names = new Set();
  const walk = (/** @type {unknown} */ node) => {
    if (Array.isArray(node)) {
      node.forEach(walk);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'secret' || key === 'clientSecret') && typeof value === 'string') names.add(value);
        else walk(value);
      }
    }
  };
  walk(config);
  return [...names];
}

/**
 * 24 random bytes: 192 bits, URL- and header-safe. Hex, because hex is also
 * valid base64: Standard Webhooks defines a secret as base64 (the
 * `standardwebhooks` library decodes it, and rejects base64url's `-` and `_`),
 * so the same kind of value works for webhook sources of type `standard` and
 * for signing triggers and callbacks.
 */
export function generateSecret() {
  return randomBytes(24).toString('hex');
}

/** docs/oauth.md: the token encryption key is 32 bytes, base64. */
export function generateEncryptionKey() {
  return randomBytes(32).toString('base64');
}
