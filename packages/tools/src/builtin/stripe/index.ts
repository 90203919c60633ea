import { createCustomer } from './create-customer';
import { createPaymentIntent } from './create-payment-intent';
import { confirmPaymentIntent } from './confirm-payment-intent';
import { createRefund } from './create-refund';
import { getPaymentIntent } from './get-payment-intent';

export { STRIPE_API_VERSION } from './stripe-client';
export const stripeTools = [createCustomer, createPaymentIntent, getPaymentIntent, createRefund, confirmPaymentIntent];
