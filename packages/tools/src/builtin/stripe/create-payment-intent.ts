import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { currency, metadata, paymentIntentObject, stripeId } from './schemas';
import { publicFields, STRIPE_API_VERSION, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/payment_intents (https://docs.stripe.com/api/payment_intents/create). */
export const createPaymentIntent = defineTool({
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
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.paymentIntents.create(input)));
  },
});
