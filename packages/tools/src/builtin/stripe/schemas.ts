import type Stripe from 'stripe';
import { z } from 'zod';

/**
 * The Stripe API version the tools are written against. Typed as the SDK's
 * latest version, so upgrading the SDK fails the build until the tools are
 * checked against the new version and this pin is moved on purpose. (A type
 * import: the descriptors load no SDK.)
 */
export const STRIPE_API_VERSION: Stripe.LatestApiVersion = '2026-10-28.endive';

/** Stripe's metadata: up to 50 keys of up to 40 characters, values up to 500. */
export const metadata = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys')
  .describe('Your own key-value pairs, stored on the object');

/** An id of the given Stripe prefix, e.g. `pi_…`. */
export const stripeId = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_]+$`), `must be a Stripe id starting with ${prefix}_`);

export const currency = z
  .string()
  .regex(/^[a-z]{3}$/, 'must be a lower-case ISO 4217 code, e.g. "usd"')
  .describe('Three-letter ISO currency code, lower case');

/** A field Stripe can expand: an id (the tools never ask for `expand[]`), or the object, kept as its id. */
const expandable = z.union([z.string(), z.object({ id: z.string() })]);

/** Objects keep every field Stripe sends; the ones agents rely on are checked. */
export const customerObject = z.looseObject({
  id: z.string(),
  object: z.literal('customer'),
  email: z.string().nullable(),
  name: z.string().nullish(),
  created: z.int(),
  metadata: z.record(z.string(), z.string()),
});

export const paymentIntentObject = z.looseObject({
  id: z.string(),
  object: z.literal('payment_intent'),
  amount: z.int(),
  currency: z.string(),
  status: z.string().describe('requires_payment_method, requires_confirmation, requires_action, processing, requires_capture, canceled or succeeded'),
  customer: expandable.nullable(),
  created: z.int(),
  metadata: z.record(z.string(), z.string()),
});

export const refundObject = z.looseObject({
  id: z.string(),
  object: z.literal('refund'),
  amount: z.int(),
  currency: z.string(),
  status: z.string().nullable().describe('pending, requires_action, succeeded, failed or canceled'),
  payment_intent: expandable.nullable(),
  reason: z.string().nullable(),
  created: z.int(),
});
