import Stripe from 'stripe';
import { ToolError } from '../../tool-error';
import type { ToolContext } from '../../types';
import { BrokerStripeHttpClient } from './http-client';
import { STRIPE_API_VERSION } from './schemas';

/**
 * A Stripe SDK for one try of one tool, sending through `ctx.http`. Host,
 * port and protocol are not given: the transport ignores them and calls the
 * integration's configured `baseUrl`. The SDK retries nothing
 * (`maxNetworkRetries: 0`): retries are the worker's, with the job's
 * idempotency key. The SDK authenticates nothing either: our credentials
 * layer adds the key (`Authorization: Bearer sk_…`) or an OAuth token.
 */
export function stripeFor(ctx: Pick<ToolContext, 'http'>, apiVersion: string | null): Stripe {
  return new Stripe('', {
    apiVersion: (apiVersion ?? STRIPE_API_VERSION) as Stripe.LatestApiVersion,
    httpClient: new BrokerStripeHttpClient(ctx.http),
    authenticator: async () => undefined,
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

/**
 * Runs one SDK call and gives back our own error for its failures: the
 * classified ToolError that `ctx.http` threw (the SDK wraps it), or UNKNOWN
 * for a 2xx the SDK could not read.
 */
export async function stripeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) {
      if (err.detail instanceof ToolError) throw err.detail;
      throw new ToolError('UNKNOWN', {
        message: `stripe: ${err.message}`,
        ...(err.statusCode ? { upstreamStatus: err.statusCode } : {}),
        ...(err.requestId ? { requestId: err.requestId } : {}),
      });
    }
    throw err;
  }
}

/**
 * What a tool returns of a Stripe object: the object as Stripe sent it, less
 * `client_secret` — results are kept in Redis and shown to agents, and a
 * payment intent's client secret lets whoever holds it confirm the payment.
 */
export function publicFields<T extends object>(object: T): Omit<T, 'client_secret'> {
  const { client_secret: _secret, ...rest } = object as T & { client_secret?: unknown };
  return rest;
}
