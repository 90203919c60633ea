import { z } from 'zod';
import { describeTool } from '../../describe-tool';
import { currency, customerObject, metadata, paymentIntentObject, refundObject, STRIPE_API_VERSION, stripeId } from './schemas';

/** The Stripe tools as the api lists and validates them; each file of this folder implements one. */
export const stripeDescriptors = {
  createCustomer: describeTool({
    name: 'stripe.createCustomer',
    integration: 'stripe',
    description:
      'Create a Stripe customer. Returns the Customer object (id "cus_…"). Safe to retry: every attempt of one job sends the same Idempotency-Key, so Stripe creates the customer once.',
    apiVersion: STRIPE_API_VERSION,
    idempotent: true,
    input: z.strictObject({
      email: z.email().max(512).optional().describe("The customer's email address"),
      name: z.string().min(1).max(256).optional().describe('Full name or business name'),
      phone: z.string().max(20).optional(),
      description: z.string().max(350).optional().describe('An internal note shown in the Stripe dashboard'),
      metadata: metadata.optional(),
    }),
    output: customerObject,
  }),

  createPaymentIntent: describeTool({
    name: 'stripe.createPaymentIntent',
    integration: 'stripe',
    description:
      'Create a Stripe PaymentIntent to collect a payment. `amount` is in the smallest currency unit (1000 = $10.00 in "usd"). Returns the PaymentIntent (id "pi_…", status). Its client_secret is not returned. Safe to retry: one Idempotency-Key per job.',
    apiVersion: STRIPE_API_VERSION,
    idempotent: true,
    input: z.strictObject({
      amount: z.int().min(1).max(99_999_999).describe('Amount in the smallest currency unit, e.g. cents'),
      currency,
      customer: stripeId('cus').optional().describe('The customer this payment belongs to'),
      description: z.string().max(1000).optional(),
      receipt_email: z.email().optional().describe('Where Stripe sends the receipt'),
      payment_method: stripeId('pm').optional().describe('A saved PaymentMethod to charge'),
      confirm: z.boolean().optional().describe('Confirm at once (needs payment_method)'),
      capture_method: z.enum(['automatic', 'automatic_async', 'manual']).optional(),
      automatic_payment_methods: z
        .strictObject({ enabled: z.boolean(), allow_redirects: z.enum(['always', 'never']).optional() })
        .optional()
        .describe('Let Stripe pick payment methods from the dashboard settings'),
      metadata: metadata.optional(),
    }),
    output: paymentIntentObject,
  }),

  getPaymentIntent: describeTool({
    name: 'stripe.getPaymentIntent',
    integration: 'stripe',
    description: 'Fetch a Stripe PaymentIntent by id ("pi_…"), e.g. to check whether it succeeded. Fails NOT_FOUND for an unknown id.',
    apiVersion: STRIPE_API_VERSION,
    idempotent: true,
    write: false,
    input: z.strictObject({ id: stripeId('pi').describe('The PaymentIntent id') }),
    output: paymentIntentObject,
  }),

  createRefund: describeTool({
    name: 'stripe.createRefund',
    integration: 'stripe',
    description:
      'Refund a payment, in full or in part, by its PaymentIntent ("pi_…") or Charge ("ch_…"). Leave out `amount` to refund what is left. Safe to retry: one Idempotency-Key per job, so a payment is never refunded twice by one job.',
    apiVersion: STRIPE_API_VERSION,
    idempotent: true,
    input: z
      .strictObject({
        payment_intent: stripeId('pi').optional().describe('The PaymentIntent to refund'),
        charge: stripeId('ch').optional().describe('The Charge to refund (instead of payment_intent)'),
        amount: z.int().min(1).optional().describe('Smallest currency unit; default: the whole remaining amount'),
        reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
        metadata: metadata.optional(),
      })
      .refine((r) => (r.payment_intent === undefined) !== (r.charge === undefined), {
        message: 'give exactly one of payment_intent or charge',
        path: ['payment_intent'],
      }),
    output: refundObject,
  }),

  confirmPaymentIntent: describeTool({
    name: 'stripe.confirmPaymentIntent',
    integration: 'stripe',
    description:
      'Confirm a Stripe PaymentIntent ("pi_…") and wait for the payment to settle. The job stays running (progress.reference = the PaymentIntent id) while Stripe processes it or the customer authenticates, and ends when the broker receives the `payment_intent.succeeded` webhook (succeeded: the PaymentIntent) or `payment_intent.payment_failed` (failed), or with TIMEOUT after `deadlineMinutes` (default 60). Safe to retry: one Idempotency-Key per job.',
    apiVersion: STRIPE_API_VERSION,
    idempotent: true,
    input: z.strictObject({
      id: stripeId('pi').describe('The PaymentIntent to confirm'),
      payment_method: stripeId('pm').optional().describe('The PaymentMethod to charge, when the PaymentIntent has none'),
      return_url: z.url().optional().describe('Where the customer returns after authenticating (redirect-based methods)'),
      deadlineMinutes: z
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .default(60)
        .describe('Give up waiting (TIMEOUT) after this long'),
    }),
    output: paymentIntentObject,
  }),
};
