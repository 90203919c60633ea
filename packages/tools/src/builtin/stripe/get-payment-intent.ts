import { implementTool } from '../../define-tool';
import { stripeDescriptors } from './descriptors';
import { publicFields, stripeCall, stripeFor } from './stripe-client';

/** GET /v1/payment_intents/{id} (https://docs.stripe.com/api/payment_intents/retrieve). */
export const getPaymentIntent = implementTool(stripeDescriptors.getPaymentIntent, {
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.paymentIntents.retrieve(input.id)));
  },
});
