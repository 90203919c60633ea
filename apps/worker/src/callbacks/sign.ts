import { Webhook } from 'standardwebhooks';
import { splitSecretValues } from '@broker/tools/secrets/provider';

/** The configured secret is not one Standard Webhooks accepts: an operator must fix it. */
export class InvalidSigningSecretError extends Error {
  override readonly name = 'InvalidSigningSecretError';
}

/**
 * The `webhook-signature` header: one `v1,<base64>` per secret value, space
 * separated (Standard Webhooks), so while a secret rotates (`old,new`)
 * receivers holding either value verify the delivery. Each value must be a
 * Standard Webhooks secret, `whsec_<base64>` or plain base64, as receivers'
 * libraries decode it the same way; anything else throws
 * {@link InvalidSigningSecretError} rather than signing with a key no
 * receiver could reproduce.
 */
export function signatureHeader(secretValue: string, webhookId: string, timestamp: Date, body: string): string {
  return splitSecretValues(secretValue)
    .map((secret) => {
      let webhook: Webhook;
      try {
        webhook = new Webhook(secret);
      } catch {
        throw new InvalidSigningSecretError('is not a Standard Webhooks secret (whsec_<base64>, or base64)');
      }
      return webhook.sign(webhookId, timestamp, body);
    })
    .join(' ');
}
