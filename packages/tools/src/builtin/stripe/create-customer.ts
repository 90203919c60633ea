import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { customerObject, metadata } from './schemas';
import { publicFields, STRIPE_API_VERSION, stripeCall, stripeFor } from './stripe-client';

/** POST /v1/customers (https://docs.stripe.com/api/customers/create). */
export const createCustomer = defineTool({
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
  async run(input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return publicFields(await stripeCall(() => stripe.customers.create(input)));
  },
});
