import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { paymentIntentObject, stripeId } from './schemas';
import { publicFields, STRIPE_API_VERSION, stripeCall, stripeFor } from './stripe-client';

/** GET /v1/payment_intents/{id} (https://docs.stripe.com/api/payment_intents/retrieve). */
export const getPaymentIntent = defineTool({
  name: 'stripe.getPaymentIntent',
  integration: 'stripe',
  description: 'Fetch a Stripe PaymentIntent by id ("pi_…"), e.g. to check whether it succeeded. Fails NOT_FOUND for an unknown id.',
  apiVersion: STRIPE_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({ id: stripeId('pi').describe('The PaymentIntent id') }),
  output: paymentIntentObject,
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.paymentIntents.retrieve(input.id)));
  },
});
