import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { metadata, refundObject, stripeId } from './schemas';
import { publicFields, STRIPE_API_VERSION, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/refunds (https://docs.stripe.com/api/refunds/create). */
export const createRefund = defineTool({
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
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.refunds.create(input)));
  },
});
