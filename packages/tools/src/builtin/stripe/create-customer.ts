import { implementTool } from '../../define-tool';
import { stripeDescriptors } from './descriptors';
import { publicFields, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/customers (https://docs.stripe.com/api/customers/create). */
export const createCustomer = implementTool(stripeDescriptors.createCustomer, {
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.customers.create(input)));
  },
});
