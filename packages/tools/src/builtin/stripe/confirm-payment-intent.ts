import type { z } from 'zod';
import { pending, type StatusCheck } from '../../async/pending';
import { implementTool } from '../../define-tool';
import { ToolError } from '../../tool-error';
import { stripeDescriptors } from './descriptors';
import type { paymentIntentObject } from './schemas';
import { publicFields, stripeCall, stripeFor } from './stripe-client';

type PaymentIntentOut = z.input<typeof paymentIntentObject>;

/** The broker's webhook source for Stripe is expected to be named like the integration. */
const WEBHOOK_SOURCE = 'stripe';

/** A fallback for when the webhook is not configured or was lost: ask Stripe now and then. */
const FALLBACK_POLL = { intervalMs: 30_000, maxIntervalMs: 300_000 };

/**
 * Where a PaymentIntent is after a confirmation (https://docs.stripe.com/payments/paymentintents/lifecycle):
 * `succeeded` (or `requires_capture`, authorised for a manual capture) is done;
 * `processing` (bank debits, some wallets) and `requires_action` (the customer
 * authenticates, 3-D Secure) finish later and announce it with a webhook;
 * `requires_payment_method` after a confirmation means the payment failed.
 */
function verdict(intent: PaymentIntentOut & { last_payment_error?: { message?: string } | null }): StatusCheck<PaymentIntentOut> {
  switch (intent.status) {
    case 'succeeded':
    case 'requires_capture':
      return { state: 'done', output: intent };
    case 'processing':
    case 'requires_action':
      return { state: 'pending', progress: { status: intent.status } };
    case 'canceled':
      return { state: 'failed', error: new ToolError('CONFLICT', { message: `PaymentIntent ${intent.id} was canceled` }) };
    default: {
      const reason = intent.last_payment_error?.message ?? `status ${intent.status}`;
      return { state: 'failed', error: new ToolError('UPSTREAM_ERROR', { message: `payment ${intent.id} failed: ${reason}`, retryable: false }) };
    }
  }
}

/** POST /v1/payment_intents/{id}/confirm, then the wait for the payment to settle. */
export const confirmPaymentIntent = implementTool(stripeDescriptors.confirmPaymentIntent, {
  async run({ id, deadlineMinutes, ...params }, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    const intent = publicFields(await stripeCall(() => stripe.paymentIntents.confirm(id, params))) as PaymentIntentOut;
    const now = verdict(intent);
    if (now.state === 'done') return now.output;
    if (now.state === 'failed') throw now.error;
    return pending(intent.id, {
      webhook: {
        source: WEBHOOK_SOURCE,
        event: 'payment_intent.succeeded',
        failEvent: ['payment_intent.payment_failed', 'payment_intent.canceled'],
        path: '$.data.object.id',
        resultPath: '$.data.object',
      },
      poll: FALLBACK_POLL,
      deadlineMs: deadlineMinutes * 60_000,
      progress: now.progress,
    });
  },
  async checkStatus(reference, _input, ctx, { apiVersion }) {
    const stripe = stripeFor(ctx, apiVersion);
    return verdict(publicFields(await stripeCall(() => stripe.paymentIntents.retrieve(reference))) as PaymentIntentOut);
  },
  // An event's PaymentIntent carries its client_secret: results are shown to agents, so it goes.
  resultFromEvent: (value) => publicFields(value as PaymentIntentOut) as PaymentIntentOut,
});
