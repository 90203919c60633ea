import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers for one try of a delivery. `webhook-id` is the
 * delivery id, the same on every retry, so a receiver deduplicates on it.
 * Signed with every value of the secret (space-separated in
 * `webhook-signature`, as the spec allows), so receivers keep verifying
 * while the secret is rotated.
 */
export function standardWebhookHeaders(secrets: readonly string[], webhookId: string, at: Date, body: string): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body));
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
