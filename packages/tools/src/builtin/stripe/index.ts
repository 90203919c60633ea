import { pairTools } from '../../define-tool';
import { confirmPaymentIntent } from './confirm-payment-intent';
import { createCustomer } from './create-customer';
import { createPaymentIntent } from './create-payment-intent';
import { createRefund } from './create-refund';
import { stripeDescriptors } from './descriptors';
import { getPaymentIntent } from './get-payment-intent';

export { STRIPE_API_VERSION } from './schemas';
export const stripeTools = pairTools(stripeDescriptors, { createCustomer, createPaymentIntent, getPaymentIntent, createRefund, confirmPaymentIntent });
