import { implementTool } from '../../define-tool';
import { stripeDescriptors } from './descriptors';
import { publicFields, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/payment_intents (https://docs.stripe.com/api/payment_intents/create). */
export const createPaymentIntent = implementTool(stripeDescriptors.createPaymentIntent, {
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.paymentIntents.create(input)));
  },
});
