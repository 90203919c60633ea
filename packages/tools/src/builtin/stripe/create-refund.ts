import { implementTool } from '../../define-tool';
import { stripeDescriptors } from './descriptors';
import { publicFields, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/refunds (https://docs.stripe.com/api/refunds/create). */
export const createRefund = implementTool(stripeDescriptors.createRefund, {
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.refunds.create(input)));
  },
});
