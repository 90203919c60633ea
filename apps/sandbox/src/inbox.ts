import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** What the broker POSTs to the sandbox: a webhook's trigger (`triggerDelivery.url`), or a job's completion callback (`callbackUrl`). */
export type DeliveryKind = 'trigger' | 'callback';

export interface ReceivedDelivery {
  /** 1, 2, 3… in arrival order, per server. */
  seq: number;
  kind: DeliveryKind;
  receivedAt: string;
  path: string;
  /** Standard Webhooks `webhook-id`: the same on every retry of one delivery. */
  webhookId: string | null;
  idempotencyKey: string | null;
  /** The Standard Webhooks signature checked with the sandbox's copy of the secret; `null` when it has none. */
  verified: boolean | null;
  /** One line saying what arrived (also printed by `main.ts`). */
  summary: string;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
}

/**
 * The last deliveries received, newest first: a demo's window onto what the
 * broker sent, bounded so that a long-running sandbox cannot grow without end.
 */
export class Inbox {
  private readonly entries: ReceivedDelivery[] = [];
  private seq = 0;

  /** @param limit deliveries kept; older ones are forgotten. */
  constructor(private readonly limit = 100) {}

  add(entry: Omit<ReceivedDelivery, 'seq'>): ReceivedDelivery {
    const delivery = { seq: ++this.seq, ...entry };
    this.entries.unshift(delivery);
    this.entries.length = Math.min(this.entries.length, this.limit);
    return delivery;
  }

  list(): readonly ReceivedDelivery[] {
    return this.entries;
  }
}

/** Standard Webhooks' replay window. */
const TOLERANCE_SECONDS = 300;

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * Checks Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`) against a secret value: `whsec_<base64>` or plain
 * base64, several comma separated while rotating, as the broker signs.
 * No library: the sandbox has no dependencies, and the check is this small.
 */
export function verifyStandardWebhook(secretValue: string, headers: IncomingHttpHeaders, body: Buffer, now = Date.now()): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const presented = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return secretValue
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .some((secret) => {
      const expected = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
        .update(signed)
        .digest();
      // timingSafeEqual throws on unequal lengths: compare only same-length candidates.
      return presented.some((p) => p.length === expected.length && timingSafeEqual(p, expected));
    });
}

const str = (value: unknown): string | undefined => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

/** One line about a delivery, from the broker's body shapes (docs/webhooks.md "Trigger delivery", docs/callbacks.md "Completion callbacks"). */
export function summarize(kind: DeliveryKind, body: unknown, verified: boolean | null): string {
  const b = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const signature = verified === null ? 'signature not checked' : verified ? 'signature verified' : 'signature INVALID';
  if (kind === 'trigger') {
    // format "openclaw" sends {message, name}: name is the source.
    const what = str(b.trigger)
      ? `${str(b.trigger)} from ${str(b.source) ?? '?'} (${str(b.type) ?? '?'}, event ${str(b.eventId) ?? '?'})`
      : `from ${str(b.name) ?? '?'} (OpenClaw format)`;
    return `trigger ${what}, ${signature}`;
  }
  const error = b.error !== null && typeof b.error === 'object' ? ` ${str((b.error as Record<string, unknown>).code) ?? ''}` : '';
  return `callback for job ${str(b.id) ?? '?'} (${str(b.tool) ?? '?'}): ${str(b.status) ?? '?'}${error}, ${signature}`;
}
